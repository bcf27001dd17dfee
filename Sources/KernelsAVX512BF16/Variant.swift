// The kernels of ../Kernels/SIMD compiled for AVX-512 with BF16 and VNNI (`-target-cpu cooperlake`), plus the bf16
// dot-product GEMM of DotKernels.swift; Kernels dispatches here when the CPU has AVX512_BF16 and runs vdpbf16ps
// faster than the FMAs it replaces (Zen 4 and later; not Emerald Rapids, which runs it at half the FMA rate).

import KernelsInterface

/// 32 zmm registers: the 12×32 tile (24 SIMD16 accumulators plus 2 B vectors and a broadcast) fits.
let variantHasWideRegisterFile = true

#if arch(x86_64)
    /// The vdpbf16ps GEMM of DotKernels.swift, with the norm and the gelu·up step writing its input as bf16 pairs.
    let variantBFloat16Dot: BFloat16DotKernels? = BFloat16DotKernels(
        roundRowsToPairs: roundRowsToPairs, matmulBlock: dotMatmulBlock, rmsNormRows: rmsNormRowsToBFloat16,
        geluTanhMultiplyPairs: geluTanhMultiplyPairRowsToBFloat16)
#else
    let variantBFloat16Dot: BFloat16DotKernels? = nil
#endif
