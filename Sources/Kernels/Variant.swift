// This module's own compiled copy of SIMD/ is the portable variant: no ISA beyond the build's baseline.

/// Whether this compiled copy of the kernels may use 32 vector registers of 16 floats (the 12×32 tile).
let variantHasWideRegisterFile = false
