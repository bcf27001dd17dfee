// LayerNorm with weight and bias (BERT's post-LN), fused with the residual add before it, on raw pointers: SIMD16,
// fp32, no allocation. The public wrapper in LayerNorm.swift documents the math.
//
// This file is compiled once per CPU variant (Kernels = portable; KernelsAVX2, KernelsAVX512 and KernelsAVX512BF16
// link to it).

import KernelsInterface

/// x = LayerNorm(x + (y + bias)) per row, in place; `y` and `bias` may each be nil (then not added).
///
/// Mean and variance in two passes over the row (in L1: a 384-float row is 1.5 KB), so the variance does not lose
/// digits to E[x²] − E[x]² the way a one-pass sum would for rows far from zero mean.
@inline(never)
package func layerNormRows(_ norm: LayerNormRowsArguments) {
    let width = norm.width, weight = norm.weight, shift = norm.shift
    for row in 0..<norm.rows {
        let target = norm.x + row * norm.rowStride
        if let y = norm.y {
            addRow(y + row * norm.yRowStride, bias: norm.bias, into: target, width: width)
        } else if let bias = norm.bias {
            addRow(bias, bias: nil, into: target, width: width)
        }
        var sums = Vector()
        var i = 0
        while i + 16 <= width {
            sums += load(target + i)
            i += 16
        }
        if i < width { sums += loadPartial(target + i, count: width - i) }
        let mean = sums.sum() / Float(width)
        let means = Vector(repeating: mean)
        var squares = Vector()
        i = 0
        while i + 16 <= width {
            let centred = load(target + i) - means
            squares = squares.addingProduct(centred, centred)
            i += 16
        }
        if i < width {
            // Filled with the mean, the lanes past the row centre to 0.
            let centred = loadPartial(target + i, count: width - i, fill: mean) - means
            squares = squares.addingProduct(centred, centred)
        }
        let inverse = Vector(repeating: 1 / (squares.sum() / Float(width) + norm.epsilon).squareRoot())
        i = 0
        while i + 16 <= width {
            store((load(target + i) - means) * inverse * load(weight + i) + load(shift + i), target + i)
            i += 16
        }
        if i < width {
            let tail = width - i
            let normed = (loadPartial(target + i, count: tail) - means) * inverse
            storePartial(
                normed * loadPartial(weight + i, count: tail) + loadPartial(shift + i, count: tail), target + i,
                count: tail)
        }
    }
}

/// target += source (+ bias), the bias added to source first as the Linear that made it added it.
@inline(__always)
private func addRow(
    _ source: UnsafePointer<Float>, bias: UnsafePointer<Float>?, into target: UnsafeMutablePointer<Float>, width: Int
) {
    var i = 0
    if let bias {
        while i + 16 <= width {
            store(load(target + i) + (load(source + i) + load(bias + i)), target + i)
            i += 16
        }
        for j in i..<width { target[j] += source[j] + bias[j] }
    } else {
        while i + 16 <= width {
            store(load(target + i) + load(source + i), target + i)
            i += 16
        }
        for j in i..<width { target[j] += source[j] }
    }
}
