import Foundation
import Testing

@testable import Kernels

@Suite("blocked attention")
struct AttentionTests {
    let pool = ComputePool(threadCount: 2)

    /// softmax(scale·QKᵀ + bias + mask)·V per sequence and head in Double, materialising everything; `bias(h, j − i)`
    /// is the relative position bias, if any.
    func naive(
        q: [Float], k: [Float], v: [Float], stride: Int, kOffset: Int, vOffset: Int, lengths: [Int],
        queryHeads: Int, kvHeads: Int, headDim: Int, scale: Double, radius: Int?, bias: ((Int, Int) -> Double)?
    ) -> [Double] {
        let total = lengths.reduce(0, +)
        var out = [Double](repeating: 0, count: total * queryHeads * headDim)
        var start = 0
        for n in lengths {
            for h in 0..<queryHeads {
                let g = h / (queryHeads / kvHeads)
                for i in 0..<n {
                    var logits = [Double](repeating: -.infinity, count: n)
                    for j in 0..<n where radius.map({ abs(i - j) <= $0 }) ?? true {
                        // Double all the way: the only fp32 rounding is in the kernel under test.
                        var s = 0.0
                        for d in 0..<headDim {
                            s +=
                                Double(q[(start + i) * stride + h * headDim + d])
                                * Double(k[(start + j) * stride + kOffset + g * headDim + d])
                        }
                        logits[j] = s * scale + (bias?(h, j - i) ?? 0)
                    }
                    let m = logits.max()!
                    let weights = logits.map { Foundation.exp($0 - m) }
                    let sum = weights.reduce(0, +)
                    for d in 0..<headDim {
                        var o = 0.0
                        for j in 0..<n { o += weights[j] * Double(v[(start + j) * stride + vOffset + g * headDim + d]) }
                        out[(start + i) * queryHeads * headDim + h * headDim + d] = o / sum
                    }
                }
            }
            start += n
        }
        return out
    }

    /// With `biasLength`, a random relative position bias table covering sequences of that many tokens.
    func run(
        lengths: [Int], queryHeads: Int, kvHeads: Int, headDim: Int, window: AttentionWindow, biasLength: Int? = nil
    ) {
        var random = SplitMix(seed: UInt64(lengths.reduce(headDim, +)))
        let total = lengths.reduce(0, +)
        // One fused QKV buffer, as the encoder's projection writes it.
        let kOffset = queryHeads * headDim, vOffset = kOffset + kvHeads * headDim
        let stride = vOffset + kvHeads * headDim + 3
        let qkv = random.floats(total * stride, range: 2)
        let outStride = queryHeads * headDim
        let radius: Int? = if case .sliding(let r) = window { r } else { nil }
        // Biases of a few units, as large as the logits: a misplaced entry moves the output far past the tolerance.
        let tableWidth = 2 * (biasLength ?? 0) - 1
        let table = biasLength.map { _ in random.floats(queryHeads * tableWidth, range: 3) } ?? []
        let expected = naive(
            q: qkv, k: qkv, v: qkv, stride: stride, kOffset: kOffset, vOffset: vOffset, lengths: lengths,
            queryHeads: queryHeads, kvHeads: kvHeads, headDim: headDim,
            scale: 1 / Double(headDim).squareRoot(), radius: radius,
            bias: biasLength.map { length in
                { head, distance in Double(table[head * tableWidth + length - 1 + distance]) }
            })
        forEachVariant { variant in
            var out = [Float](repeating: .nan, count: total * outStride)
            qkv.withUnsafeBufferPointer { p in
                table.withUnsafeBufferPointer { table in
                    let base = p.baseAddress!
                    attention(
                        queries: base, queryRowStride: stride, keys: base + kOffset, keyRowStride: stride,
                        values: base + vOffset, valueRowStride: stride, output: &out, outputRowStride: outStride,
                        sequenceLengths: lengths, queryHeads: queryHeads, kvHeads: kvHeads, headDim: headDim,
                        scale: 1 / Float(headDim).squareRoot(), window: window,
                        relativeBias: biasLength.map { RelativePositionBias(table: table.baseAddress!, maxLength: $0) },
                        pool: pool)
                }
            }
            let error = zip(out, expected).map { abs(Double($0) - $1) }.max() ?? 0
            #expect(error < 1e-5, "\(variant) lengths \(lengths) window \(window): max error \(error)")
        }
    }

    @Test("full attention over a packed batch matches naive softmax(QKᵀ)V with 3 query heads on 1 K/V head")
    func fullGQA() {
        run(lengths: [1, 50, 7, 130], queryHeads: 3, kvHeads: 1, headDim: 40, window: .full)
    }

    @Test("sliding window |i−j| ≤ radius matches the naive mask when sequences cross the window")
    func sliding() {
        run(lengths: [130, 3, 61], queryHeads: 3, kvHeads: 1, headDim: 24, window: .sliding(radius: 9))
        run(lengths: [100], queryHeads: 2, kvHeads: 1, headDim: 16, window: .sliding(radius: 0))
        run(lengths: [70], queryHeads: 3, kvHeads: 1, headDim: 32, window: .sliding(radius: 256))
    }

    @Test("several K/V heads each serve their own group of query heads")
    func groups() {
        run(lengths: [33, 60], queryHeads: 4, kvHeads: 2, headDim: 20, window: .full)
    }

    @Test("a short query at the real shape, small enough to run on the calling thread alone")
    func shortQuery() {
        run(lengths: [10], queryHeads: 3, kvHeads: 1, headDim: 256, window: .full)
        run(lengths: [4, 6], queryHeads: 3, kvHeads: 1, headDim: 256, window: .sliding(radius: 2))
    }

    @Test("BERT's shape: 12 heads of 32 (MiniLM), one K/V head each, short and long sequences in one batch")
    func bertHeads() {
        run(lengths: [7, 256, 1, 40, 16, 17], queryHeads: 12, kvHeads: 12, headDim: 32, window: .full)
    }

    @Test("sequences on either side of the direct path's 16-token limit, in one batch, at every head size remainder")
    func directAndPackedTogether() {
        run(lengths: [16, 17, 2, 15], queryHeads: 3, kvHeads: 1, headDim: 256, window: .full)
        run(lengths: [17, 16, 9], queryHeads: 2, kvHeads: 1, headDim: 72, window: .sliding(radius: 3))
        run(lengths: [13, 1], queryHeads: 4, kvHeads: 2, headDim: 12, window: .full)
    }

    @Test("a relative position bias by head and j − i, on the direct and packed paths and across query blocks")
    func relativeBias() {
        // MPNet's shape scaled down: heads of 32, sequences on either side of 16 (direct) and 48 (a query block).
        run(
            lengths: [1, 5, 16, 17, 50, 130, 2], queryHeads: 4, kvHeads: 4, headDim: 32, window: .full, biasLength: 130)
        // A table longer than every sequence, an odd head size, and grouped K/V heads.
        run(lengths: [9, 70], queryHeads: 4, kvHeads: 2, headDim: 20, window: .full, biasLength: 200)
        // With a window, a row's first visible key is not the sequence's first.
        run(lengths: [100, 12], queryHeads: 2, kvHeads: 1, headDim: 16, window: .sliding(radius: 5), biasLength: 100)
    }

    @Test("real head size 256 with a window the sequence crosses")
    func gemmaShape() {
        run(lengths: [200], queryHeads: 1, kvHeads: 1, headDim: 256, window: .sliding(radius: 64))
    }
}
