// Swift has no intrinsic for AVX512-BF16's dot product; this inline wrapper compiles to one vdpbf16ps (no call) in
// Swift code built for a CPU with the feature (KernelsAVX512BF16, `-target-cpu cooperlake`).
#if defined(__x86_64__)
#include <immintrin.h>

typedef float embed_f32x16 __attribute__((ext_vector_type(16)));
typedef unsigned int embed_u32x16 __attribute__((ext_vector_type(16)));

/// acc[i] + a.bf16[2i]·b.bf16[2i] + a.bf16[2i+1]·b.bf16[2i+1] for each of the 16 lanes.
static inline __attribute__((always_inline, target("avx512f,avx512bf16")))
embed_f32x16 embedDotBFloat16Pairs(embed_f32x16 acc, embed_u32x16 a, embed_u32x16 b) {
    return (embed_f32x16)_mm512_dpbf16_ps((__m512)acc, (__m512bh)a, (__m512bh)b);
}
#endif
