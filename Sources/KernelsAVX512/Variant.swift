// The kernels of ../Kernels/SIMD compiled for AVX-512 (`-target-cpu skylake-avx512`); Kernels dispatches here when
// the CPU has AVX-512 F/BW/DQ/VL/CD.

/// 32 zmm registers: the 12×32 tile (24 SIMD16 accumulators plus 2 B vectors and a broadcast) fits.
let variantHasWideRegisterFile = true
