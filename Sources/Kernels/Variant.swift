// This module's own compiled copy of SIMD/ is the portable variant: no ISA beyond the build's baseline.

import KernelsInterface

/// Whether this compiled copy of the kernels may use 32 vector registers of 16 floats (the 12×32 tile).
let variantHasWideRegisterFile = false

/// No bf16 dot-product GEMM: bf16 weights are widened to fp32 for the FMA tiles.
let variantBFloat16Dot: BFloat16DotKernels? = nil
