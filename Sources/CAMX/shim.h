// Intel AMX (tile registers and their bf16 dot product), which Swift has no intrinsics for. Each wrapper is a few
// tile instructions on fixed registers (tile numbers must be immediates); the GEMM loop around them is Swift
// (KernelsAMX, built for Sapphire Rapids so these inline). Register use: tmm0–3 accumulate a 32×32 block of C as four 16×16 tiles
// (tmm0 rows 0–15 columns 0–15, tmm1 rows 0–15 columns 16–31, tmm2 and tmm3 the same for rows 16–31), tmm4–5 hold
// A (rows 0–15 and 16–31, 16 K pairs each), tmm6–7 hold B (columns 0–15 and 16–31, 16 K pairs each).
#if defined(__x86_64__) && defined(__linux__)
#include <immintrin.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/// Asks Linux for the AMX tile data state for this process (ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA); without
/// it the first tile instruction faults. Returns 0 when granted.
static inline long embedAMXRequestPermission(void) { return syscall(SYS_arch_prctl, 0x1023, 18); }

/// Loads palette 1 with the tile shapes for `rowsLow` (1–16) rows of C in tmm0/1/4 and `rowsHigh` (0–16) in
/// tmm2/3/5; B tiles are 16 K pairs × 16 columns. Zeroes every tile.
static inline __attribute__((always_inline, target("amx-tile"))) void embedAMXConfigure(int rowsLow, int rowsHigh) {
    struct { uint8_t palette, startRow, reserved[14]; uint16_t bytesPerRow[16]; uint8_t rows[16]; }
        __attribute__((aligned(64))) config;
    memset(&config, 0, sizeof config);
    config.palette = 1;
    int rows[8] = { rowsLow, rowsLow, rowsHigh, rowsHigh, rowsLow, rowsHigh, 16, 16 };
    for (int tile = 0; tile < 8; tile++) {
        if (rows[tile] > 0) { config.rows[tile] = (uint8_t)rows[tile]; config.bytesPerRow[tile] = 64; }
    }
    _tile_loadconfig(&config);
}

/// Returns the tiles to their initial state, so the OS need not save them at a context switch.
static inline __attribute__((always_inline, target("amx-tile"))) void embedAMXRelease(void) { _tile_release(); }

/// Clears the accumulators of the low rows (tmm0–1) and, with `high`, of the high rows (tmm2–3).
static inline __attribute__((always_inline, target("amx-tile"))) void embedAMXZero(int high) {
    _tile_zero(0); _tile_zero(1);
    if (high) { _tile_zero(2); _tile_zero(3); }
}

/// Loads the accumulators from C (`strideBytes` per row): low rows at `c`, high rows 16 rows further.
static inline __attribute__((always_inline, target("amx-tile"))) void embedAMXLoadC(const float *c, long strideBytes, int high) {
    _tile_loadd(0, c, strideBytes); _tile_loadd(1, c + 16, strideBytes);
    if (high) {
        const char *next = (const char *)c + 16 * strideBytes;
        _tile_loadd(2, next, strideBytes); _tile_loadd(3, (const float *)next + 16, strideBytes);
    }
}

/// Stores the accumulators to C, laid out as `embedAMXLoadC` reads it.
static inline __attribute__((always_inline, target("amx-tile"))) void embedAMXStoreC(float *c, long strideBytes, int high) {
    _tile_stored(0, c, strideBytes); _tile_stored(1, c + 16, strideBytes);
    if (high) {
        char *next = (char *)c + 16 * strideBytes;
        _tile_stored(2, next, strideBytes); _tile_stored(3, (float *)next + 16, strideBytes);
    }
}

/// One K step of 16 pairs: A rows (`aStrideBytes` apart; the high rows 16 rows on) times the two B halves
/// (`bLow`, `bHigh`: 16 rows of 64 bytes each, contiguous), added into the accumulators.
static inline __attribute__((always_inline, target("amx-tile,amx-bf16")))
void embedAMXStep(const void *a, long aStrideBytes, const void *bLow, const void *bHigh, int high) {
    _tile_loadd(4, a, aStrideBytes);
    _tile_loadd(6, bLow, 64);
    _tile_loadd(7, bHigh, 64);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    if (high) {
        _tile_loadd(5, (const char *)a + 16 * aStrideBytes, aStrideBytes);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
}
#endif
