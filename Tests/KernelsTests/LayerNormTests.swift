import Foundation
import Testing

@testable import Kernels

@Suite("LayerNorm and the bias/GELU epilogues")
struct LayerNormTests {
    @Test(
        "layerNorm(x + (y + b)) matches a Double reference, with and without y and bias",
        arguments: [384, 768, 37, 5, 16])
    func layerNormMatches(width: Int) {
        forEachVariant { variant in
            var random = SplitMix(seed: UInt64(width))
            let rows = 4, stride = width + 3, yStride = width + 7
            // Rows far from zero mean (offset 100), so a one-pass variance would lose its digits.
            var original = random.floats(rows * stride, range: 3).map { $0 + 100 }
            for i in 0..<width { original[stride + i] = original[stride + i] * 1e-5 }
            let y = random.floats(rows * yStride, range: 2)
            let bias = random.floats(width), weight = random.floats(width, range: 2), shift = random.floats(width)
            for (useY, useBias) in [(true, true), (true, false), (false, true), (false, false)] {
                var x = original
                y.withUnsafeBufferPointer { yp in
                    bias.withUnsafeBufferPointer { bp in
                        layerNorm(
                            &x, rowStride: stride, adding: useY ? yp.baseAddress : nil, yRowStride: yStride,
                            bias: useBias ? bp.baseAddress : nil, rows: rows, width: width, weight: weight,
                            shift: shift, epsilon: 1e-12)
                    }
                }
                for r in 0..<rows {
                    let sums = (0..<width).map { i in
                        Double(original[r * stride + i]) + (useY ? Double(y[r * yStride + i]) : 0)
                            + (useBias ? Double(bias[i]) : 0)
                    }
                    let mean = sums.reduce(0, +) / Double(width)
                    let variance = sums.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(width)
                    let inverse = 1 / (variance + 1e-12).squareRoot()
                    for i in 0..<width {
                        let expected = (sums[i] - mean) * inverse * Double(weight[i]) + Double(shift[i])
                        // fp32 sums of values near 100 carry ~1e-5 absolute error, ~1e-4 of a unit-variance row.
                        #expect(
                            abs(Double(x[r * stride + i]) - expected) <= 2e-4 * max(1, abs(expected)),
                            "\(variant) y \(useY) bias \(useBias) row \(r) column \(i)")
                    }
                    // The stride's padding is untouched.
                    for i in width..<stride { #expect(x[r * stride + i] == original[r * stride + i]) }
                }
            }
        }
    }

    @Test("LayerNorm of a constant row is the shift (variance 0, ε keeps it finite)")
    func constantRow() {
        forEachVariant { variant in
            var x = [Float](repeating: 3, count: 20)
            let weight = [Float](repeating: 2, count: 20), shift = (0..<20).map { Float($0) }
            layerNorm(&x, rowStride: 20, rows: 1, width: 20, weight: weight, shift: shift, epsilon: 1e-5)
            #expect(x == shift, "\(variant)")
        }
    }

    @Test("addBias adds the bias to each row's first columns only", arguments: [1, 15, 16, 33, 1536])
    func addBiasMatches(columns: Int) {
        forEachVariant { variant in
            var random = SplitMix(seed: UInt64(columns))
            let rows = 3, stride = columns + 5
            let original = random.floats(rows * stride), bias = random.floats(columns)
            var x = original
            addBias(&x, rowStride: stride, rows: rows, columns: columns, bias: bias)
            for r in 0..<rows {
                for c in 0..<stride {
                    let expected = original[r * stride + c] + (c < columns ? bias[c] : 0)
                    #expect(x[r * stride + c] == expected, "\(variant) \(r) \(c)")
                }
            }
        }
    }

    @Test(
        "erf GELU of x + bias matches ½·u·erfc(−u/√2) in Double within 6e-7 relative or 5e-9 absolute, tails included")
    func geluErfMatches() {
        // −12…12 in steps that hit both signs, zero and the far tails, plus random values.
        var values = stride(from: -12.0, through: 12.0, by: 0.0137).map { Float($0) }
        values += [0, -0.0, 1e-30, -1e-30, 1e-6, -1e-6, 30, -30, 100, -100, Float.greatestFiniteMagnitude / 4]
        var random = SplitMix(seed: 5)
        values += random.floats(997, range: 6)
        let columns = values.count
        let bias = random.floats(columns, range: 0.5)
        forEachVariant { variant in
            for useBias in [false, true] {
                var x = values
                bias.withUnsafeBufferPointer { bp in
                    geluErf(&x, rowStride: columns, rows: 1, columns: columns, bias: useBias ? bp.baseAddress : nil)
                }
                var worst = 0.0
                for c in 0..<columns {
                    let u = Double(useBias ? values[c] + bias[c] : values[c])
                    let expected = 0.5 * u * erfc(-u / 2.0.squareRoot())
                    let error = abs(Double(x[c]) - expected)
                    // The negative tail is evaluated in fp32 as t·e^(P(t) − a²), whose rounding costs up to ~2e-6
                    // relative there, on values under 1e-2: an absolute 5e-9, a tenth of an ulp of 1, bounds it.
                    #expect(error <= 6e-7 * abs(expected) + 5e-9, "\(variant) gelu(\(u)) = \(x[c]), not \(expected)")
                    if abs(expected) >= 1e-2 { worst = max(worst, error / abs(expected)) }
                }
                #expect(worst < 6e-7, "\(variant): worst relative error \(worst) where |gelu| ≥ 0.01")
            }
        }
    }
}
