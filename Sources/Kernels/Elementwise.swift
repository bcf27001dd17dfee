// Row-wise and element-wise kernels on raw pointers: SIMD16, fp32, no allocation. Each call runs the bodies in
// SIMD/RowKernels.swift compiled for the active CPU variant.

/// Σ a[i]·b[i] with fp32 accumulation.
package func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
    KernelVariant.current.table.dot(a, b, count)
}

/// y = x · 1/√(mean(x²) + ε) ⊙ (1 + w) per row (Gemma RMSNorm). `x` and `y` may be the same buffer.
///
/// `weightPlusOne` holds (1 + w) precomputed, `width` floats. Row r starts at `r·rowStride` in both buffers.
package func rmsNorm(
    _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, rows: Int, width: Int,
    rowStride: Int, weightPlusOne: UnsafePointer<Float>, epsilon: Float
) {
    KernelVariant.current.table.rmsNormRows(x, y, rows, width, rowStride, weightPlusOne, epsilon)
}

/// residual += RMSNorm(y) per row: the sandwich norm after a sub-block, fused with the residual add.
///
/// `y` rows are `yRowStride` apart, `residual` rows `residualRowStride` apart; `weightPlusOne` holds (1 + w).
package func rmsNormAdd(
    _ y: UnsafePointer<Float>, rowStride yRowStride: Int,
    addingTo residual: UnsafeMutablePointer<Float>, residualRowStride: Int,
    rows: Int, width: Int, weightPlusOne: UnsafePointer<Float>, epsilon: Float
) {
    KernelVariant.current.table.rmsNormAddRows(
        y, yRowStride, residual, residualRowStride, rows, width, weightPlusOne, epsilon)
}

/// x = softmax(x) over `count` floats, with max-subtraction; fp32 throughout.
package func softmaxInPlace(_ x: UnsafeMutablePointer<Float>, count: Int) {
    KernelVariant.current.table.softmaxRow(x, count)
}

/// out[r][c] = gelu_tanh(gate) · up for the first `columns` columns of `rows` rows, with gate and up in 32-column
/// panels in turn in `products` (gate of columns 32p..<32p+32 at 64p, their up at 64p + 32), as `matmulGELUGated`
/// leaves them; gelu_tanh(u) = 0.5·u·(1 + tanh(√(2/π)·(u + 0.044715·u³))).
///
/// Evaluated as u·σ(2z) (the same function: ½(1 + tanh z) = 1/(1 + e^(−2z))), which keeps full relative
/// precision for every u instead of losing it where tanh z ≈ −1.
package func geluTanhMultiplyPairs(
    _ products: UnsafePointer<Float>, productStride: Int, rows: Int, columns: Int,
    into out: UnsafeMutablePointer<Float>, outStride: Int
) {
    KernelVariant.current.table.geluTanhMultiplyPairs(products, productStride, rows, columns, out, outStride)
}
