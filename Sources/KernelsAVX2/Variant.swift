// The kernels of ../Kernels/SIMD compiled for AVX2 + FMA (`-target-cpu haswell`); Kernels dispatches here when the
// CPU has them.

import KernelsInterface

/// 16 ymm registers: the 6×16 tile (12 accumulator registers) fits, the 12×32 one would spill.
let variantHasWideRegisterFile = false

/// No bf16 dot-product GEMM: bf16 weights are widened to fp32 for the FMA tiles.
let variantBFloat16Dot: BFloat16DotKernels? = nil
