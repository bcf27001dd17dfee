import Foundation
import Kernels
import Synchronization

/// The BERT-family encoder (BERT, RoBERTa, XLM-RoBERTa, MPNet) over a packed batch: post-LayerNorm layers, absolute
/// positions and token types, every Linear with a bias, exact GELU; MPNet adds a relative position bias to every
/// layer's attention logits. Sequences are concatenated without padding, every Linear is one GEMM over all tokens,
/// attention runs within each sequence.
struct BertEncoder: TokenEncoder {
    let config: BertConfiguration
    let weights: BertWeights
    let maxPositions: Int
    /// head_dim^−0.5.
    let attentionScale: Float
    /// MPNet's relative position bias looked up for every distance a sequence can have: `[heads × (2·maxPositions −
    /// 1)]`, as `RelativePositionBias` reads it (12 heads × 767 floats for 384 tokens); empty for the others.
    let relativeBiasTable: [Float]

    var hiddenSize: Int { config.hiddenSize }
    var vocabularySize: Int { config.vocabularySize }

    /// `maxPositions`: the longest sequence accepted (max_seq_length), at most what the position table covers.
    init(config: BertConfiguration, weights: BertWeights, maxPositions: Int) {
        precondition(maxPositions <= config.maxPositions, "BertEncoder: \(maxPositions) positions past the table")
        self.config = config
        self.weights = weights
        self.maxPositions = maxPositions
        attentionScale = Float(1 / Double(config.headDim).squareRoot())
        if let bias = weights.relativeAttentionBias {
            let heads = config.headCount, width = 2 * maxPositions - 1
            var table = [Float](repeating: 0, count: heads * width)
            for distance in -(maxPositions - 1)...(maxPositions - 1) {
                let bucket = Self.relativePositionBucket(distance)
                for head in 0..<heads {
                    table[head * width + maxPositions - 1 + distance] = bias[bucket * heads + head]
                }
            }
            relativeBiasTable = table
        } else {
            relativeBiasTable = []
        }
    }

    /// MPNet's bucket of the key's distance from the query, j − i (T5's bidirectional buckets as transformers computes
    /// them: 32 buckets, 128 the farthest distance told apart): 0…15 for keys at or before the query, 16…31 after it;
    /// distances below 8 exact, farther ones 8 + ⌊8·log₁₆(|j − i| / 8)⌋, at most 15.
    static func relativePositionBucket(_ distance: Int) -> Int {
        let side = distance > 0 ? 16 : 0, n = distance.magnitude
        if n < 8 { return side + Int(n) }
        if n >= 128 { return side + 15 }
        // ⌊8·log₁₆(n/8)⌋ = the largest k with n⁸ ≥ 8⁸·16ᵏ = 2^(24 + 4k), in integers (n⁸ < 2⁵⁶ below 128): the
        // float logarithm would decide the thresholds 16, 32 and 64 by its rounding.
        let power = n * n * n * n * n * n * n * n
        var k = 0
        while k < 7, power >= UInt(1) << (28 + 4 * k) { k += 1 }
        return side + 8 + k
    }

    func reserve(_ scratch: EncoderScratch, tokens: Int, sequences: Int, headWidth: Int) {
        scratch.reserve(
            tokens: tokens, sequences: sequences, hidden: config.hiddenSize, attentionWidth: config.hiddenSize,
            projectionWidth: max(3 * config.hiddenSize, config.intermediateSize), headWidth: headWidth)
    }

    var typeVocabularySize: Int { config.typeVocabularySize }

    /// Token types: a BERT cross-encoder's pair has 0 for the first text, 1 for the second.
    func forward(
        ids: [Int32], tokenTypes: [Int32]?, lengths: [Int], scratch: EncoderScratch, pool: ComputePool,
        betweenLayers: () -> Void = {}
    ) throws {
        let tokens = ids.count
        let hidden = config.hiddenSize, intermediate = config.intermediateSize
        let qkvWidth = 3 * hidden
        let epsilon = config.layerNormEpsilon
        precondition(
            tokenTypes.map { $0.count == tokens && $0.allSatisfy { $0 >= 0 && Int($0) < config.typeVocabularySize } }
                ?? true, "BertEncoder: one token type per token, each below type_vocab_size")

        // Buffers live in `scratch` for the whole call; worker tasks touch disjoint rows of them.
        nonisolated(unsafe) let x = scratch.residual.pointer // [T × hidden]
        nonisolated(unsafe) let projected = scratch.normed.pointer // [T × hidden]: o_proj and down outputs
        nonisolated(unsafe) let qkv = scratch.projections.pointer // [T × 3·hidden]
        nonisolated(unsafe) let activated = scratch.projections.pointer // [T × intermediate], once q/k/v are consumed
        nonisolated(unsafe) let attended = scratch.attention.pointer // [T × hidden]
        nonisolated(unsafe) let positions = scratch.positions.pointer // [T]

        var row = 0
        for length in lengths {
            switch config.positions {
            case .fromZero:
                for position in 0..<length { positions[row + position] = Int32(position) }
            case .afterPadding(let paddingIndex):
                var counted = paddingIndex
                for position in 0..<length {
                    if Int(ids[row + position]) == paddingIndex {
                        positions[row + position] = Int32(paddingIndex)
                    } else {
                        counted += 1
                        positions[row + position] = Int32(counted)
                    }
                }
            }
            row += length
        }

        // Embeddings: LayerNorm((word + type) + position), in torch's order of the sums.
        let rowBlocks = RowBlocks(rows: tokens, threads: pool.threadCount)
        let file = weights.file, table = weights.wordEmbeddingOffset, rowBytes = hidden * 4
        let readFailure = Mutex<(any Error)?>(nil)
        ids.withUnsafeBufferPointer { idBuffer in
            weights.positionEmbeddings.withUnsafeBufferPointer { positionTable in
                weights.tokenTypeEmbeddings.withUnsafeBufferPointer { typeTable in
                    weights.embeddingNorm.weight.withUnsafeBufferPointer { gamma in
                        weights.embeddingNorm.bias.withUnsafeBufferPointer { beta in
                            nonisolated(unsafe) let idPointer = idBuffer.baseAddress!
                            nonisolated(unsafe) let positionTable = positionTable.baseAddress!
                            nonisolated(unsafe) let typeTable = typeTable.baseAddress!
                            nonisolated(unsafe) let gamma = gamma.baseAddress!, beta = beta.baseAddress!
                            rowBlocks.run(pool) { range in
                                do {
                                    for t in range {
                                        let target = x + t * hidden
                                        // Read, not mapped, as Gemma's table: resident memory stays what is packed.
                                        try file.copyBytes(
                                            fileOffset: table + Int(idPointer[t]) * rowBytes, count: rowBytes,
                                            into: target)
                                        let type = typeTable + Int(tokenTypes?[t] ?? 0) * hidden
                                        let position = positionTable + Int(positions[t]) * hidden
                                        for d in 0..<hidden { target[d] = (target[d] + type[d]) + position[d] }
                                    }
                                } catch {
                                    readFailure.withLock { $0 = $0 ?? error }
                                    return
                                }
                                layerNorm(
                                    x + range.lowerBound * hidden, rowStride: hidden, rows: range.count,
                                    width: hidden, weight: gamma, shift: beta, epsilon: epsilon)
                            }
                        }
                    }
                }
            }
        }
        if let error = readFailure.withLock({ $0 }) { throw error }

        for (index, layer) in weights.layers.enumerated() {
            if index > 0 { betweenLayers() }
            // Attention block: x = LayerNorm(x + o_proj(attention(q, k, v)) + b_o), q | k | v = x·Wᵀ + b.
            matmul(x, rows: tokens, rowStride: hidden, layer.queryKeyValue, into: qkv, rowStride: qkvWidth, pool: pool)
            layer.queryKeyValueBias.withUnsafeBufferPointer { bias in
                nonisolated(unsafe) let bias = bias.baseAddress!
                rowBlocks.run(pool) { range in
                    addBias(
                        qkv + range.lowerBound * qkvWidth, rowStride: qkvWidth, rows: range.count, columns: qkvWidth,
                        bias: bias)
                }
            }
            relativeBiasTable.withUnsafeBufferPointer { table in
                attention(
                    queries: qkv, queryRowStride: qkvWidth,
                    keys: qkv + hidden, keyRowStride: qkvWidth,
                    values: qkv + 2 * hidden, valueRowStride: qkvWidth,
                    output: attended, outputRowStride: hidden,
                    sequenceLengths: lengths, queryHeads: config.headCount, kvHeads: config.headCount,
                    headDim: config.headDim, scale: attentionScale, window: .full,
                    relativeBias: table.isEmpty
                        ? nil : RelativePositionBias(table: table.baseAddress!, maxLength: maxPositions),
                    pool: pool)
            }
            matmul(
                attended, rows: tokens, rowStride: hidden, layer.output, into: projected, rowStride: hidden, pool: pool)
            residualLayerNorm(
                x, adding: projected, bias: layer.outputBias, norm: layer.attentionNorm, width: hidden,
                epsilon: epsilon, rowBlocks: rowBlocks, pool: pool)

            // Feed-forward block: x = LayerNorm(x + down(gelu(x·W₁ᵀ + b₁)) + b₂).
            matmul(
                x, rows: tokens, rowStride: hidden, layer.intermediate, into: activated, rowStride: intermediate,
                pool: pool)
            layer.intermediateBias.withUnsafeBufferPointer { bias in
                nonisolated(unsafe) let bias = bias.baseAddress!
                rowBlocks.run(pool) { range in
                    geluErf(
                        activated + range.lowerBound * intermediate, rowStride: intermediate, rows: range.count,
                        columns: intermediate, bias: bias)
                }
            }
            matmul(
                activated, rows: tokens, rowStride: intermediate, layer.down, into: projected, rowStride: hidden,
                pool: pool)
            residualLayerNorm(
                x, adding: projected, bias: layer.downBias, norm: layer.outputNorm, width: hidden, epsilon: epsilon,
                rowBlocks: rowBlocks, pool: pool)
        }
    }

    /// x = LayerNorm(x + (y + bias)) over the rows, in row blocks on the pool.
    private func residualLayerNorm(
        _ x: UnsafeMutablePointer<Float>, adding y: UnsafeMutablePointer<Float>, bias: [Float],
        norm: LayerNormWeights, width: Int, epsilon: Float, rowBlocks: RowBlocks, pool: ComputePool
    ) {
        bias.withUnsafeBufferPointer { bias in
            norm.weight.withUnsafeBufferPointer { gamma in
                norm.bias.withUnsafeBufferPointer { beta in
                    nonisolated(unsafe) let x = x, y = y
                    nonisolated(unsafe) let bias = bias.baseAddress!, gamma = gamma.baseAddress!
                    nonisolated(unsafe) let beta = beta.baseAddress!
                    rowBlocks.run(pool) { range in
                        let offset = range.lowerBound * width
                        layerNorm(
                            x + offset, rowStride: width, adding: y + offset, yRowStride: width, bias: bias,
                            rows: range.count, width: width, weight: gamma, shift: beta, epsilon: epsilon)
                    }
                }
            }
        }
    }
}
