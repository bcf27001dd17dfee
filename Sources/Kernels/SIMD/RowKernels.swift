// Row-wise and element-wise kernels on raw pointers: SIMD16, fp32, no allocation. The public wrappers in
// Elementwise.swift and RoPE.swift document the math and dispatch to one compiled copy of these.
//
// This file is compiled once per CPU variant (Kernels = portable; KernelsAVX2, KernelsAVX512 and KernelsAVX512BF16
// link to it).

/// y = x · 1/√(mean(x²) + ε) ⊙ (1 + w) per row; x and y may alias.
@inline(never)
package func rmsNormRows(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, width: Int,
    rowStride: Int, weightPlusOne: UnsafePointer<Float>, epsilon: Float
) {
    normRows(
        x, rowStride: rowStride, into: y, RowStoreFloat.self, targetStride: rowStride, rows: rows, width: width,
        weightPlusOne: weightPlusOne, epsilon: epsilon)
}

/// `rmsNormRows` written as bf16 (`targetStride` bf16 values from row to row), rounded as `roundRowsToPairs` rounds:
/// the input of a dot-product GEMM, made by the norm instead of in a pass of its own.
@inline(never)
package func rmsNormRowsToBFloat16(
    _ x: UnsafePointer<Float>, rowStride: Int, into y: UnsafeMutablePointer<UInt16>,
    targetStride: Int, rows: Int, width: Int, weightPlusOne: UnsafePointer<Float>,
    epsilon: Float
) {
    normRows(
        x, rowStride: rowStride, into: y, RowStoreBFloat16.self, targetStride: targetStride, rows: rows,
        width: width, weightPlusOne: weightPlusOne, epsilon: epsilon)
}

@inline(__always)
private func normRows<Store: RowStore>(
    _ x: UnsafePointer<Float>, rowStride: Int,
    into y: UnsafeMutablePointer<Store.Element>, _: Store.Type, targetStride: Int,
    rows: Int, width: Int, weightPlusOne: UnsafePointer<Float>, epsilon: Float
) {
    for row in 0..<rows {
        let source = x + row * rowStride
        let target = y + row * targetStride
        let inverse = inverseRMS(source, width: width, epsilon: epsilon)
        var i = 0
        while i + 16 <= width {
            Store.write(load(source + i) * inverse * load(weightPlusOne + i), target + i)
            i += 16
        }
        if i < width {
            let tail = width - i
            Store.write(
                loadPartial(source + i, count: tail) * inverse * loadPartial(weightPlusOne + i, count: tail),
                target + i, count: tail)
        }
    }
}

/// residual += RMSNorm(y) per row.
@inline(never)
package func rmsNormAddRows(
    _ y: UnsafePointer<Float>, yRowStride: Int, _ residual: UnsafeMutablePointer<Float>,
    residualRowStride: Int, rows: Int, width: Int, weightPlusOne: UnsafePointer<Float>,
    epsilon: Float
) {
    for row in 0..<rows {
        let source = y + row * yRowStride
        let target = residual + row * residualRowStride
        let inverse = inverseRMS(source, width: width, epsilon: epsilon)
        var i = 0
        while i + 16 <= width {
            store(load(target + i) + load(source + i) * inverse * load(weightPlusOne + i), target + i)
            i += 16
        }
        if i < width {
            let tail = width - i
            let normed = loadPartial(source + i, count: tail) * inverse * loadPartial(weightPlusOne + i, count: tail)
            storePartial(loadPartial(target + i, count: tail) + normed, target + i, count: tail)
        }
    }
}

/// 1/√(mean(x²) + ε) for one row, statistics in fp32.
@inline(__always)
private func inverseRMS(_ x: UnsafePointer<Float>, width: Int, epsilon: Float) -> Float {
    let meanSquare = dotProduct(x, x, count: width) / Float(width)
    return 1 / (meanSquare + epsilon).squareRoot()
}

/// x = softmax(x) with max-subtraction.
@inline(never)
package func softmaxRow(_ x: UnsafeMutablePointer<Float>, count: Int) {
    if count <= 0 { return }
    let maximum = largest(x, count: count)
    let sum = exponentiateShifted(x, count: count, shift: maximum, scale: 1)
    scale(x, count: count, by: 1 / sum)
}

/// max x[i] over `count` ≥ 1 floats.
@inline(__always)
func largest(_ x: UnsafePointer<Float>, count: Int) -> Float {
    var maxima = Vector(repeating: -.infinity)
    var i = 0
    while i + 16 <= count {
        let value = load(x + i)
        maxima.replace(with: value, where: value .> maxima)
        i += 16
    }
    if i < count {
        let value = loadPartial(x + i, count: count - i, fill: -.infinity)
        maxima.replace(with: value, where: value .> maxima)
    }
    return maxima.max()
}

/// x[i] = exp((x[i] − shift)·scale); returns Σ x[i].
@inline(__always)
func exponentiateShifted(_ x: UnsafeMutablePointer<Float>, count: Int, shift: Float, scale: Float) -> Float {
    let shiftVector = Vector(repeating: shift)
    let scaleVector = Vector(repeating: scale)
    var sums = Vector()
    var i = 0
    while i + 16 <= count {
        let e = exp((load(x + i) - shiftVector) * scaleVector)
        store(e, x + i)
        sums += e
        i += 16
    }
    if i < count {
        let e = exp((loadPartial(x + i, count: count - i) - shiftVector) * scaleVector)
            .replacing(with: 0, where: laneIndex .>= Int32(count - i))
        storePartial(e, x + i, count: count - i)
        sums += e
    }
    return sums.sum()
}

/// x[i] *= factor.
@inline(__always)
func scale(_ x: UnsafeMutablePointer<Float>, count: Int, by factor: Float) {
    var i = 0
    while i + 16 <= count {
        store(load(x + i) * factor, x + i)
        i += 16
    }
    for j in i..<count { x[j] *= factor }
}

/// x[i] = x[i]·factor + bias[i]: logits scaled, then a relative position bias added, as attention with one adds it.
@inline(__always)
func scale(_ x: UnsafeMutablePointer<Float>, count: Int, by factor: Float, adding bias: UnsafePointer<Float>) {
    let factors = Vector(repeating: factor)
    var i = 0
    while i + 16 <= count {
        store(load(bias + i).addingProduct(load(x + i), factors), x + i)
        i += 16
    }
    for j in i..<count { x[j] = bias[j].addingProduct(x[j], factor) }
}

/// out[r][c] = gelu_tanh(gate) · up for c < `columns` of each of `rows` rows, where `products` holds 32-column gate and
/// up panels in turn (gate of columns 32p..<32p+32 at 64p, their up at 64p + 32): a block of `matmulGELUGated`.
@inline(never)
package func geluTanhMultiplyPairRows(
    _ products: UnsafePointer<Float>, productStride: Int, rows: Int, columns: Int,
    into out: UnsafeMutablePointer<Float>, outStride: Int
) {
    geluRows(
        products, productStride: productStride, rows: rows, columns: columns, into: out, RowStoreFloat.self,
        outStride: outStride)
}

/// `geluTanhMultiplyPairRows` written as bf16 (`outStride` bf16 values from row to row), rounded as
/// `roundRowsToPairs` rounds: the down projection's input for a dot-product GEMM.
@inline(never)
package func geluTanhMultiplyPairRowsToBFloat16(
    _ products: UnsafePointer<Float>, productStride: Int, rows: Int,
    columns: Int, into out: UnsafeMutablePointer<UInt16>, outStride: Int
) {
    geluRows(
        products, productStride: productStride, rows: rows, columns: columns, into: out, RowStoreBFloat16.self,
        outStride: outStride)
}

@inline(__always)
private func geluRows<Store: RowStore>(
    _ products: UnsafePointer<Float>, productStride: Int, rows: Int, columns: Int,
    into out: UnsafeMutablePointer<Store.Element>, _: Store.Type, outStride: Int
) {
    for row in 0..<rows {
        let source = products + row * productStride, target = out + row * outStride
        // 16-column steps never straddle a pair: each reads its gate at c + 32·(c / 32) and its up 32 further.
        var c = 0
        while c + 16 <= columns {
            let gate = source + c + c / 32 * 32
            Store.write(geluTanh(load(gate)) * load(gate + 32), target + c)
            c += 16
        }
        if c < columns {
            let gate = source + c + c / 32 * 32, tail = columns - c
            Store.write(
                geluTanh(loadPartial(gate, count: tail)) * loadPartial(gate + 32, count: tail), target + c,
                count: tail)
        }
    }
}

/// gelu_tanh(u) = u / (1 + exp(−2·√(2/π)·(u + 0.044715·u³))).
@inline(__always)
func geluTanh(_ u: Vector) -> Vector {
    let inner =
        u * Vector(repeating: 0.7978845608028654).addingProduct(u * u, Vector(repeating: 0.7978845608028654 * 0.044715))
    return u / (1 + exp(-2 * inner))
}

/// Rotate-half RoPE on `heads` heads of one row, with this row's cos/sin (`headDim/2` each).
@inline(never)
package func ropeRow(
    _ row: UnsafeMutablePointer<Float>, heads: Int, headDim: Int,
    cosines: UnsafePointer<Float>, sines: UnsafePointer<Float>
) {
    let half = headDim / 2
    for head in 0..<heads {
        let first = row + head * headDim
        let second = first + half
        var d = 0
        while d + 16 <= half {
            let a = load(first + d), b = load(second + d)
            let c = load(cosines + d), s = load(sines + d)
            store(a * c - b * s, first + d)
            store(b * c + a * s, second + d)
            d += 16
        }
        while d < half {
            let a = first[d], b = second[d]
            first[d] = a * cosines[d] - b * sines[d]
            second[d] = b * cosines[d] + a * sines[d]
            d += 1
        }
    }
}

/// Σ a[i]·b[i] (not inlined: the dispatch entry point).
@inline(never)
package func dotRow(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
    dotProduct(a, b, count: count)
}

/// How a row kernel writes its 16-lane results: as fp32, or rounded to bf16.
protocol RowStore {
    associatedtype Element
    static func write(_ value: Vector, _ target: UnsafeMutablePointer<Element>)
    /// The low `count` (< 16) lanes.
    static func write(_ value: Vector, _ target: UnsafeMutablePointer<Element>, count: Int)
}

enum RowStoreFloat: RowStore {
    @inline(__always)
    static func write(_ value: Vector, _ target: UnsafeMutablePointer<Float>) { store(value, target) }

    @inline(__always)
    static func write(_ value: Vector, _ target: UnsafeMutablePointer<Float>, count: Int) {
        storePartial(value, target, count: count)
    }
}

/// Round to nearest even: `bfloat16Bits` for a partial vector, its arithmetic on whole vectors (without its NaN case:
/// a row kernel's inputs are finite). bf16 values stored one after another are the K pairs of `roundRowsToPairs`:
/// word p holds values 2p (low) and 2p + 1 (high).
enum RowStoreBFloat16: RowStore {
    /// 16 values into 8 pair words at an even index. Pairs are formed from the even and odd lanes (two permutes):
    /// `SIMD16<UInt16>(truncatingIfNeeded:)` is not specialised and ran as a generic call per vector.
    @inline(__always)
    static func write(_ value: Vector, _ target: UnsafeMutablePointer<UInt16>) {
        let bits = unsafeBitCast(value, to: SIMD16<UInt32>.self)
        let rounded = bits &+ 0x7FFF &+ ((bits &>> 16) & 1)
        let words = (rounded.evenHalf &>> 16) | (rounded.oddHalf & 0xFFFF_0000)
        UnsafeMutableRawPointer(target).storeBytes(of: words, as: SIMD8<UInt32>.self)
    }

    /// Also zeroes the value after an odd `count`: the high half of a row's last pair, as the packed weights pad it.
    @inline(__always)
    static func write(_ value: Vector, _ target: UnsafeMutablePointer<UInt16>, count: Int) {
        for lane in 0..<count { target[lane] = bfloat16Bits(value[lane]) }
        if count % 2 == 1 { target[count] = 0 }
    }
}

/// 0, 1, …, 15: compared with a count to mask the lanes of a partial vector.
private let laneIndex = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
