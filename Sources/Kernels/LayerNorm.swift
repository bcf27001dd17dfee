// LayerNorm and the bias/activation epilogues of a Linear with bias (BERT's layers). Each call runs the bodies in
// SIMD/LayerNormKernels.swift and SIMD/BiasActivationKernels.swift compiled for the active CPU variant.

import KernelsInterface

/// x = LayerNorm(x + (y + bias)) per row, in place: γ ⊙ (s − mean(s)) / √(var(s) + ε) + β with the biased variance,
/// as torch's `layer_norm`. The post-LN residual step of a BERT layer, with the preceding Linear's bias folded in.
///
/// `y` (rows `yRowStride` apart) and `bias` (`width` floats) may each be nil; x rows are `rowStride` apart.
/// Statistics in fp32, mean and variance in two passes.
package func layerNorm(
    _ x: UnsafeMutablePointer<Float>, rowStride: Int, adding y: UnsafePointer<Float>? = nil, yRowStride: Int = 0,
    bias: UnsafePointer<Float>? = nil, rows: Int, width: Int, weight: UnsafePointer<Float>,
    shift: UnsafePointer<Float>, epsilon: Float
) {
    KernelVariant.current.table.layerNormRows(
        LayerNormRowsArguments(
            x: x, rowStride: rowStride, y: y, yRowStride: yRowStride, bias: bias, rows: rows, width: width,
            weight: weight, shift: shift, epsilon: epsilon))
}

/// x[r][c] += bias[c] for the first `columns` columns of `rows` rows (`rowStride` floats apart).
package func addBias(
    _ x: UnsafeMutablePointer<Float>, rowStride: Int, rows: Int, columns: Int, bias: UnsafePointer<Float>
) {
    KernelVariant.current.table.addBiasRows(x, rowStride, rows, columns, bias)
}

/// x[r][c] = gelu(x[r][c] + bias[c]) with the exact GELU ½·u·(1 + erf(u/√2)) (torch's default `gelu`), within
/// ~2e-7 relative of it; `bias` may be nil.
package func geluErf(
    _ x: UnsafeMutablePointer<Float>, rowStride: Int, rows: Int, columns: Int, bias: UnsafePointer<Float>? = nil
) {
    KernelVariant.current.table.geluErfRows(x, rowStride, rows, columns, bias)
}
