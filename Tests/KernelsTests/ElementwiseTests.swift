import Foundation
import Testing

@testable import Kernels

@Suite("element-wise and row-wise kernels")
struct ElementwiseTests {
    @Test(
        "dot matches a Double sum for lengths around the vector width",
        arguments: [0, 1, 15, 16, 17, 63, 64, 65, 768, 1000])
    func dotProduct(count: Int) {
        var random = SplitMix(seed: UInt64(count))
        let a = random.floats(count), b = random.floats(count)
        let expected = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        forEachVariant { variant in
            #expect(abs(Double(dot(a, b, count: count)) - expected) < 1e-5, "\(variant)")
        }
    }

    @Test("RMSNorm uses (1 + w) and eps inside the root, in place and out of place", arguments: [768, 256, 37, 5])
    func rmsNormMatches(width: Int) {
        forEachVariant { variant in
            var random = SplitMix(seed: UInt64(width))
            let rows = 3, stride = width + 4
            // One row tiny, so eps matters.
            var x = random.floats(rows * stride, range: 3)
            for i in 0..<width { x[stride + i] *= 1e-4 }
            let weight = random.floats(width)
            let weightPlusOne = weight.map { 1 + $0 }
            var y = [Float](repeating: 0, count: rows * stride)
            rmsNorm(
                x, into: &y, rows: rows, width: width, rowStride: stride, weightPlusOne: weightPlusOne, epsilon: 1e-6)
            var inPlace = x
            inPlace.withUnsafeMutableBufferPointer { p in
                rmsNorm(
                    p.baseAddress!, into: p.baseAddress!, rows: rows, width: width, rowStride: stride,
                    weightPlusOne: weightPlusOne, epsilon: 1e-6)
            }
            for r in 0..<rows {
                let row = x[(r * stride)..<(r * stride + width)].map(Double.init)
                let inverse = 1 / (row.reduce(0) { $0 + $1 * $1 } / Double(width) + 1e-6).squareRoot()
                for i in 0..<width {
                    let expected = row[i] * inverse * (1 + Double(weight[i]))
                    #expect(abs(Double(y[r * stride + i]) - expected) <= 1e-5 * max(1, abs(expected)))
                    #expect(inPlace[r * stride + i] == y[r * stride + i])
                }
            }
        }
    }

    @Test("rmsNormAdd adds the normalised rows to the residual and nothing else", arguments: [768, 21])
    func rmsNormAddMatches(width: Int) {
        forEachVariant { variant in
            var random = SplitMix(seed: 99)
            let rows = 4, yStride = width + 16, residualStride = width + 1
            let y = random.floats(rows * yStride, range: 50)
            let weight = random.floats(width)
            let original = random.floats(rows * residualStride, range: 1000)
            var residual = original
            rmsNormAdd(
                y, rowStride: yStride, addingTo: &residual, residualRowStride: residualStride, rows: rows,
                width: width, weightPlusOne: weight.map { 1 + $0 }, epsilon: 1e-6)
            for r in 0..<rows {
                let row = y[(r * yStride)..<(r * yStride + width)].map(Double.init)
                let inverse = 1 / (row.reduce(0) { $0 + $1 * $1 } / Double(width) + 1e-6).squareRoot()
                for i in 0..<width {
                    let expected = Double(original[r * residualStride + i]) + row[i] * inverse * (1 + Double(weight[i]))
                    #expect(abs(Double(residual[r * residualStride + i]) - expected) <= 1e-4)
                }
                #expect(residual[r * residualStride + width] == original[r * residualStride + width])
            }
        }
    }

    @Test("softmax subtracts the max, sums to one and survives large logits", arguments: [1, 7, 16, 33, 1000])
    func softmax(count: Int) {
        forEachVariant { variant in
            var random = SplitMix(seed: UInt64(count))
            var x = random.floats(count, range: 30).map { $0 + 500 }
            let reference = x.map(Double.init)
            softmaxInPlace(&x, count: count)
            let maximum = reference.max()!
            let sum = reference.reduce(0) { $0 + Foundation.exp($1 - maximum) }
            for i in 0..<count {
                let expected = Foundation.exp(reference[i] - maximum) / sum
                #expect(abs(Double(x[i]) - expected) <= 1e-6 * expected + 1e-30)
            }
        }
    }

    @Test("vector exp is within a few ulp of exp and 0 far below")
    func vectorExp() {
        var worst = 0.0
        var value: Float = -87
        while value < 87.9 {
            var lanes = Vector()
            for lane in 0..<16 { lanes[lane] = value + Float(lane) * 0.0037 }
            let result = Kernels.exp(lanes)
            for lane in 0..<16 {
                let expected = Foundation.exp(Double(lanes[lane]))
                worst = max(worst, abs(Double(result[lane]) - expected) / expected)
            }
            value += 0.0591
        }
        #expect(worst < 3e-7)
        #expect(Kernels.exp(Vector(repeating: -100)) == Vector())
        #expect(Kernels.exp(Vector(repeating: -.infinity)) == Vector())
        #expect(Kernels.exp(Vector(repeating: 0)) == Vector(repeating: 1))
    }

    /// Two rows of `count` columns, gate and up in 32-column panels in turn, rows padded on both sides.
    @Test("gelu_tanh(gate)·up matches the tanh formula in Double", arguments: [1, 16, 100, 1152])
    func gelu(count: Int) {
        forEachVariant { variant in
            var random = SplitMix(seed: UInt64(count) + 5)
            let rows = 2
            var gate = random.floats(rows * count, range: 12)
            if count > 3 { gate[0] = 0; gate[1] = -30; gate[2] = 30; gate[3] = 1e-4 }
            let up = random.floats(rows * count, range: 2)
            let productStride = 64 * ((count + 31) / 32) + 3, outStride = count + 2
            var products = [Float](repeating: .nan, count: rows * productStride)
            for row in 0..<rows {
                for c in 0..<count {
                    products[row * productStride + c + c / 32 * 32] = gate[row * count + c]
                    products[row * productStride + c + c / 32 * 32 + 32] = up[row * count + c]
                }
            }
            var written = [Float](repeating: -7, count: rows * outStride)
            geluTanhMultiplyPairs(
                products, productStride: productStride, rows: rows, columns: count, into: &written,
                outStride: outStride)
            var out: [Float] = []
            for row in 0..<rows {
                out += written[row * outStride..<row * outStride + count]
                #expect(written[row * outStride + count..<(row + 1) * outStride].allSatisfy { $0 == -7 })
            }
            for i in 0..<rows * count {
                let u = Double(gate[i])
                let z = 0.7978845608028654 * (u + 0.044715 * u * u * u)
                let formula = 0.5 * u * (1 + Foundation.tanh(z)) * Double(up[i])
                // ½(1 + tanh z) = 1/(1 + e^(−2z)) exactly; this form keeps the reference precise where tanh z ≈ −1.
                let precise = u / (1 + Foundation.exp(-2 * z)) * Double(up[i])
                #expect(abs(formula - precise) <= 1e-13)
                // fp32 rounding of the exponent's argument 2z alone costs ~|2z|·6e-8 relative; allow a few of those.
                // Below u ≈ −5.5 the exponent saturates at e⁸⁸ and the result is ~1e-37 instead of smaller still.
                #expect(
                    abs(Double(out[i]) - precise) <= (3e-7 + 2e-7 * abs(2 * z)) * abs(precise) + 1e-36,
                    "gate \(gate[i])")
            }
        }
    }

    @Test(
        "rotate-half RoPE pairs d with d + headDim/2 at each row's position",
        arguments: [(256, Float(10_000)), (20, Float(1_000_000))])
    func rope(headDim: Int, base: Float) {
        forEachVariant { variant in
            var random = SplitMix(seed: 3)
            let rows = 5, heads = 3, stride = heads * headDim + 7
            let table = RoPETable(headDim: headDim, base: base, maxPositions: 2048)
            let positions: [Int32] = [0, 1, 17, 2047, 513]
            let original = random.floats(rows * stride)
            var x = original
            applyRoPE(&x, rows: rows, heads: heads, rowStride: stride, positions: positions, table: table)
            let half = headDim / 2
            for r in 0..<rows {
                for h in 0..<heads {
                    for d in 0..<half {
                        let inverseFrequency = Float(1 / pow(Double(base), Double(2 * d) / Double(headDim)))
                        let angle = Double(Float(positions[r]) * inverseFrequency)
                        let a = Double(original[r * stride + h * headDim + d])
                        let b = Double(original[r * stride + h * headDim + d + half])
                        #expect(abs(Double(x[r * stride + h * headDim + d]) - (a * cos(angle) - b * sin(angle))) < 1e-6)
                        #expect(
                            abs(Double(x[r * stride + h * headDim + d + half]) - (b * cos(angle) + a * sin(angle)))
                                < 1e-6)
                    }
                }
                for i in (heads * headDim)..<stride { #expect(x[r * stride + i] == original[r * stride + i]) }
            }
        }
    }
}
