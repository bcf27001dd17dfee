// The kernels of ../Kernels/SIMD compiled for AVX-512 (`-target-cpu skylake-avx512`); Kernels dispatches here when
// the CPU has AVX-512 F/BW/DQ/VL/CD.

import KernelsInterface

/// 32 zmm registers: the 12×32 tile (24 SIMD16 accumulators plus 2 B vectors and a broadcast) fits.
let variantHasWideRegisterFile = true

/// No bf16 dot-product GEMM: bf16 weights are widened to fp32 for the FMA tiles.
let variantBFloat16Dot: BFloat16DotKernels? = nil
