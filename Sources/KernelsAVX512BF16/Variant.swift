// The kernels of ../Kernels/SIMD compiled for AVX-512 with BF16 and VNNI (`-target-cpu cooperlake`), plus the bf16
// dot-product GEMM of DotKernels.swift; Kernels dispatches here when the CPU has AVX512_BF16 and runs vdpbf16ps
// faster than the FMAs it replaces (Zen 4 and later; not Emerald Rapids, which runs it at half the FMA rate).

/// 32 zmm registers: the 12×32 tile (24 SIMD16 accumulators plus 2 B vectors and a broadcast) fits.
let variantHasWideRegisterFile = true
