import Foundation
import Kernels
import Synchronization

/// The Gemma3 bidirectional encoder over a packed batch: sequences concatenated without padding, every Linear one
/// GEMM over all tokens, attention within each sequence.
struct Encoder: Sendable {
    let config: EncoderConfiguration
    let weights: ModelWeights
    let ropeFull: RoPETable
    let ropeSliding: RoPETable
    /// float32(√hidden), as the reference stores it.
    let embeddingScale: Float
    /// query_pre_attn_scalar^−0.5.
    let attentionScale: Float

    /// Longest sequence the RoPE tables cover.
    var maxPositions: Int { ropeFull.maxPositions }

    init(config: EncoderConfiguration, weights: ModelWeights, maxPositions: Int) {
        self.config = config
        self.weights = weights
        ropeFull = RoPETable(headDim: config.headDim, base: Float(config.ropeThetaFull), maxPositions: maxPositions)
        ropeSliding = RoPETable(
            headDim: config.headDim, base: Float(config.ropeThetaSliding), maxPositions: maxPositions)
        embeddingScale = Float(Double(config.hiddenSize).squareRoot())
        attentionScale = Float(1 / config.queryPreAttentionScalar.squareRoot())
    }

    /// Runs the encoder; afterwards `scratch.residual` holds the final-norm token states `[T × hidden]`.
    ///
    /// `ids` are the concatenated sequences, `lengths` their token counts (each ≥ 1, ≤ maxPositions, ids checked
    /// against the vocabulary by the caller); `betweenLayers` is called after each layer but the last, with no pool
    /// work in flight. Throws when the embedding rows cannot be read (the weights file shrank).
    func forward(
        ids: [Int32], lengths: [Int], scratch: EncoderScratch, pool: ComputePool, betweenLayers: () -> Void = {}
    ) throws {
        let tokens = ids.count
        let hidden = config.hiddenSize, headDim = config.headDim
        let heads = config.queryHeadCount, kvHeads = config.keyValueHeadCount
        let queryWidth = heads * headDim, keyValueWidth = kvHeads * headDim
        let qkvWidth = queryWidth + 2 * keyValueWidth
        let intermediate = config.intermediateSize
        let epsilon = config.rmsNormEpsilon

        // Buffers live in `scratch` for the whole call; worker tasks touch disjoint rows of them.
        nonisolated(unsafe) let x = scratch.residual.pointer // [T × hidden]
        nonisolated(unsafe) let normed = scratch.normed.pointer // [T × hidden]
        nonisolated(unsafe) let projected = scratch.normed.pointer // [T × hidden], once `normed` is consumed
        nonisolated(unsafe) let qkv = scratch.projections.pointer // [T × qkvWidth]
        nonisolated(unsafe) let gateUp = scratch.projections.pointer // gate and up products, once q/k/v are consumed
        nonisolated(unsafe) let attended = scratch.attention.pointer // [T × queryWidth]
        nonisolated(unsafe) let activated = scratch.attention.pointer // [T × intermediate], once o_proj read attended
        nonisolated(unsafe) let positions = scratch.positions.pointer // [T]

        var row = 0
        for length in lengths {
            for position in 0..<length { positions[row + position] = Int32(position) }
            row += length
        }

        let rowBlocks = RowBlocks(rows: tokens, threads: pool.threadCount)
        let scale = embeddingScale, file = weights.file, table = weights.embeddingOffset, rowBytes = hidden * 4
        let readFailure = Mutex<(any Error)?>(nil)
        ids.withUnsafeBufferPointer { idBuffer in
            nonisolated(unsafe) let idPointer = idBuffer.baseAddress!
            rowBlocks.run(pool) { range in
                do {
                    for t in range {
                        // Read, not mapped: resident memory stays the packed weights plus activations however much
                        // of the 262k-row table the traffic touches (see `copyBytes`).
                        let target = x + t * hidden
                        try file.copyBytes(
                            fileOffset: table + Int(idPointer[t]) * rowBytes, count: rowBytes, into: target)
                        for d in 0..<hidden { target[d] *= scale }
                    }
                } catch {
                    readFailure.withLock { $0 = $0 ?? error }
                }
            }
        }
        if let error = readFailure.withLock({ $0 }) { throw error }

        // The configuration's validation guarantees at least one layer. Each norm or activation that feeds a weight
        // GEMM writes `normed` or `activated` in the form that GEMM reads (bf16 pairs on the dot-product variant).
        let layers = weights.layers
        let attentionInput = { (layer: LayerWeights) in MatmulInput(normed, rowStride: hidden, for: layer.queryKeyValue)
        }
        layers[0].inputNorm.plusOne.withUnsafeBufferPointer { w in
            nonisolated(unsafe) let w = w.baseAddress!
            let target = attentionInput(layers[0])
            rowBlocks.run(pool) { range in
                rmsNorm(
                    x + range.lowerBound * hidden, rowStride: hidden, into: target.rows(from: range.lowerBound),
                    rows: range.count, width: hidden, weightPlusOne: w, epsilon: epsilon)
            }
        }
        for (index, layer) in layers.enumerated() {
            if index > 0 { betweenLayers() }
            let rope = layer.kind == .full ? ropeFull : ropeSliding
            // Attention block: x += norm(o_proj(attention(rope(norm(q)), rope(norm(k)), v))), with norm(x) in
            // `normed` already (the step before wrote it).
            matmul(attentionInput(layer), rows: tokens, layer.queryKeyValue, into: qkv, rowStride: qkvWidth, pool: pool)
            layer.queryNorm.plusOne.withUnsafeBufferPointer { qw in
                layer.keyNorm.plusOne.withUnsafeBufferPointer { kw in
                    nonisolated(unsafe) let qw = qw.baseAddress!, kw = kw.baseAddress!
                    rowBlocks.run(pool) { range in
                        let rows = qkv + range.lowerBound * qkvWidth
                        for head in 0..<heads {
                            rmsNorm(
                                rows + head * headDim, into: rows + head * headDim, rows: range.count, width: headDim,
                                rowStride: qkvWidth, weightPlusOne: qw, epsilon: epsilon)
                        }
                        for head in 0..<kvHeads {
                            let keys = rows + queryWidth + head * headDim
                            rmsNorm(
                                keys, into: keys, rows: range.count, width: headDim, rowStride: qkvWidth,
                                weightPlusOne: kw, epsilon: epsilon)
                        }
                        applyRoPE(
                            rows, rows: range.count, heads: heads, rowStride: qkvWidth,
                            positions: positions + range.lowerBound, table: rope)
                        applyRoPE(
                            rows + queryWidth, rows: range.count, heads: kvHeads, rowStride: qkvWidth,
                            positions: positions + range.lowerBound, table: rope)
                    }
                }
            }
            attention(
                queries: qkv, queryRowStride: qkvWidth,
                keys: qkv + queryWidth, keyRowStride: qkvWidth,
                values: qkv + queryWidth + keyValueWidth, valueRowStride: qkvWidth,
                output: attended, outputRowStride: queryWidth,
                sequenceLengths: lengths, queryHeads: heads, kvHeads: kvHeads, headDim: headDim,
                scale: attentionScale,
                window: layer.kind == .full ? .full : .sliding(radius: config.windowRadius), pool: pool)
            matmul(
                attended, rows: tokens, rowStride: queryWidth, layer.output, into: projected, rowStride: hidden,
                pool: pool)

            // MLP block: x += norm(down(gelu(gate(norm(x))) ⊙ up(norm(x)))), with the post-attention residual
            // add and the pre-MLP norm fused per row block (`projected` and `normed` share memory: each block
            // reads all its projected rows before it writes their normed rows).
            let feedforwardInput = MatmulInput(normed, rowStride: hidden, for: layer.gateUp)
            layer.postAttentionNorm.plusOne.withUnsafeBufferPointer { post in
                layer.preFeedforwardNorm.plusOne.withUnsafeBufferPointer { pre in
                    nonisolated(unsafe) let post = post.baseAddress!, pre = pre.baseAddress!
                    rowBlocks.run(pool) { range in
                        let offset = range.lowerBound * hidden
                        rmsNormAdd(
                            projected + offset, rowStride: hidden, addingTo: x + offset, residualRowStride: hidden,
                            rows: range.count, width: hidden, weightPlusOne: post, epsilon: epsilon)
                        rmsNorm(
                            x + offset, rowStride: hidden, into: feedforwardInput.rows(from: range.lowerBound),
                            rows: range.count, width: hidden, weightPlusOne: pre, epsilon: epsilon)
                    }
                }
            }
            let downInput = MatmulInput(activated, rowStride: intermediate, for: layer.down)
            matmulGELUGated(feedforwardInput, rows: tokens, layer.gateUp, scratch: gateUp, into: downInput, pool: pool)
            matmul(downInput, rows: tokens, layer.down, into: projected, rowStride: hidden, pool: pool)
            // The residual add is fused with the norm that follows it: the next layer's input norm into `normed`,
            // or after the last layer the final norm, in place (one step, and one pass over x, fewer per layer).
            let isLast = index == layers.count - 1
            let nextNorm = isLast ? weights.finalNorm : layers[index + 1].inputNorm
            let nextTarget =
                isLast
                ? MatmulInput(x, rowStride: hidden, form: .float32)
                : attentionInput(layers[index + 1])
            layer.postFeedforwardNorm.plusOne.withUnsafeBufferPointer { post in
                nextNorm.plusOne.withUnsafeBufferPointer { next in
                    nonisolated(unsafe) let post = post.baseAddress!, next = next.baseAddress!
                    rowBlocks.run(pool) { range in
                        let offset = range.lowerBound * hidden
                        rmsNormAdd(
                            projected + offset, rowStride: hidden, addingTo: x + offset,
                            residualRowStride: hidden, rows: range.count, width: hidden, weightPlusOne: post,
                            epsilon: epsilon)
                        rmsNorm(
                            x + offset, rowStride: hidden, into: nextTarget.rows(from: range.lowerBound),
                            rows: range.count, width: hidden, weightPlusOne: next, epsilon: epsilon)
                    }
                }
            }
        }
    }
}

/// Token rows cut into a few blocks per thread for the row-wise kernels (norms, RoPE, GELU).
struct RowBlocks: Sendable {
    let rows: Int
    let blockRows: Int

    init(rows: Int, threads: Int) {
        self.rows = rows
        // A few blocks per thread even out uneven progress. Up to 32 rows (~100 k multiply-adds, a few µs) are one
        // block on the calling thread: handing them to a worker and waiting for it would cost as much as the work.
        blockRows = max(32, (rows + 4 * threads - 1) / (4 * threads))
    }

    func run(_ pool: ComputePool, _ body: @Sendable (Range<Int>) -> Void) {
        let blocks = (rows + blockRows - 1) / blockRows
        let rows = rows, blockRows = blockRows
        pool.parallelFor(blocks) { block in
            let start = block * blockRows
            body(start..<min(rows, start + blockRows))
        }
    }
}
