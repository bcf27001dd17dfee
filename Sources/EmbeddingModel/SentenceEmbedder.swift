import Foundation
import Kernels

/// What `/info` and request validation need to know about the loaded model.
package struct ModelInfo: Sendable, Equatable {
    /// Width of the encoder's token states (768).
    package let hiddenSize: Int
    /// Width of the sentence embedding after the Dense layers (768).
    package let embeddingDimensions: Int
    /// Longest token sequence accepted, BOS and EOS included (`max_seq_length`, 2048).
    package let maxSequenceLength: Int
    /// Rows of the embedding table; valid token ids are 0..<vocabularySize.
    package let vocabularySize: Int
    /// Prompt name → text prepended to the input before tokenization.
    package let prompts: [String: String]
    /// Prompt applied when a request names none (nil: no prompt).
    package let defaultPromptName: String?
    /// `model_type` from config.json ("gemma3_text", "bert", "roberta", "xlm-roberta").
    package let modelType: String
    /// How token states become one vector (the `1_Pooling` module).
    package let pooling: PoolingMode
    /// Whether the sentence-transformers module chain ends in `Normalize` (`2_Normalize`): the model's own output is
    /// unit length. `embed` returns the vector before it either way.
    package let normalizes: Bool
    /// A cross-encoder's labels (`id2label` in id order): `embed` returns one logit per label, from the head on the
    /// first token. Nil for an embedding model.
    package let labels: [String]?
    /// Rows of the token type table: token type ids must be below it (1: every token is type 0).
    package let typeVocabularySize: Int
}

/// Why a batch of token sequences cannot be embedded.
package enum EmbeddingError: Error, Equatable, CustomStringConvertible {
    case emptySequence(index: Int)
    case tokenOutOfRange(sequence: Int, position: Int, id: Int32, vocabularySize: Int)
    /// The token types do not match the sequence, or one is outside the model's type table.
    case tokenTypesInvalid(sequence: Int, reason: String)
    case sequenceTooLong(index: Int, tokens: Int, maxTokens: Int)
    /// The model produced NaN or infinity for this sequence: its weights are broken (or overflow on this input).
    case nonFiniteOutput(sequence: Int)

    package var description: String {
        switch self {
        case .emptySequence(let index):
            "sequence \(index) has no tokens"
        case .tokenOutOfRange(let sequence, let position, let id, let vocabularySize):
            "sequence \(sequence), position \(position): token id \(id) is outside the embedding table (0..<\(vocabularySize))"
        case .tokenTypesInvalid(let sequence, let reason):
            "sequence \(sequence): \(reason)"
        case .sequenceTooLong(let index, let tokens, let maxTokens):
            "sequence \(index) has \(tokens) tokens; the model takes at most \(maxTokens)"
        case .nonFiniteOutput(let sequence):
            "the model's output for sequence \(sequence) is not finite (NaN or infinity): its weights are likely corrupt"
        }
    }
}

/// A sentence-transformers model as it runs it: the encoder config.json names (EmbeddingGemma's Gemma3, or the BERT
/// family), the `1_Pooling` module, Dense layers. Or a cross-encoder (a BERT-family `*ForSequenceClassification`
/// checkpoint), run the same way with the first token's state and the classification head as its Dense layers.
///
/// Calls are meant to come from one batcher thread at a time; a lock serialises them anyway, because they share
/// the activation buffers. A call may make one more from its `betweenLayers` callback, on the same thread (a short
/// batch preempting a long one): the lock is recursive and the nested call runs on a second set of buffers.
/// `@unchecked Sendable`: the only mutable state is `scratches` and `depth`, touched only with `lock` held.
package final class SentenceEmbedder: @unchecked Sendable {
    /// Sizes, prompts and limits of the loaded model.
    package let info: ModelInfo
    /// How the Linear weights were packed.
    package let precision: WeightPrecision
    private let encoder: any TokenEncoder
    private let pooling: PoolingMode
    private let dense: [DenseWeights]
    private let pool: ComputePool
    private let lock = NSRecursiveLock()
    /// Activation buffers per nesting depth: a preempting batch must not touch those of the batch it paused. The
    /// second set grows only to the short batches that run there.
    private let scratches = [EncoderScratch(), EncoderScratch()]
    private var depth = 0

    /// Loads the model directory (config, weights packed for the GEMM, sentence-transformers modules) with its
    /// Linear weights packed at `precision`; activations, norms and accumulation stay fp32 whatever it is.
    package init(directory: String, pool: ComputePool, precision: WeightPrecision = .float32) throws {
        let configPath = (directory as NSString).appendingPathComponent("config.json")
        let architecture = try Architecture(configPath: configPath)
        if case .bert(let config) = architecture, let classifier = config.classifier {
            let weights = try BertWeights(directory: directory, config: config, precision: precision)
            // A cross-encoder has no sentence-transformers modules: transformers' head reads the first token.
            let maxSequenceLength = try SentenceConfiguration.maxSequenceLength(
                directory: directory, maxPositions: config.maxPositions)
            encoder = BertEncoder(config: config, weights: weights, maxPositions: maxSequenceLength)
            dense = weights.classifierHead ?? []
            pooling = .cls
            info = ModelInfo(
                hiddenSize: config.hiddenSize, embeddingDimensions: classifier.labels.count,
                maxSequenceLength: maxSequenceLength, vocabularySize: config.vocabularySize, prompts: [:],
                defaultPromptName: nil, modelType: config.modelType, pooling: .cls, normalizes: false,
                labels: classifier.labels, typeVocabularySize: config.typeVocabularySize)
        } else {
            let sentence = try SentenceConfiguration(
                directory: directory, hiddenSize: architecture.hiddenSize, maxPositions: architecture.maxPositions)
            let modelType: String
            switch architecture {
            case .gemma3(let config):
                let weights = try ModelWeights(directory: directory, encoder: config, precision: precision)
                // The RoPE tables cover the longest sequence accepted, not every position the config names.
                encoder = Encoder(config: config, weights: weights, maxPositions: sentence.maxSequenceLength)
                modelType = "gemma3_text"
            case .bert(let config):
                let weights = try BertWeights(directory: directory, config: config, precision: precision)
                encoder = BertEncoder(config: config, weights: weights, maxPositions: sentence.maxSequenceLength)
                modelType = config.modelType
            }
            dense = try DenseWeights.load(sentence, precision: precision, pool: pool)
            pooling = sentence.pooling
            info = ModelInfo(
                hiddenSize: architecture.hiddenSize,
                embeddingDimensions: sentence.denseLayers.last?.outFeatures ?? architecture.hiddenSize,
                maxSequenceLength: sentence.maxSequenceLength,
                vocabularySize: encoder.vocabularySize,
                prompts: sentence.prompts,
                defaultPromptName: sentence.defaultPromptName,
                modelType: modelType,
                pooling: sentence.pooling,
                normalizes: sentence.endsWithNormalize,
                labels: nil,
                typeVocabularySize: encoder.typeVocabularySize
            )
        }
        self.pool = pool
        self.precision = precision
    }

    /// One pooled vector per sequence (after the Dense layers, BEFORE normalisation), for a packed batch; for a
    /// cross-encoder, its logits. `tokenTypes`: one type per token of each sequence (a BERT pair's second text is
    /// type 1), or nil for type 0 throughout. `betweenLayers` runs after each encoder layer but the last, on this
    /// thread; it may call this model once more (not deeper), with nothing between layers.
    package func embed(
        _ sequences: [[Int32]], tokenTypes: [[Int32]]? = nil, betweenLayers: () -> Void = {}
    ) throws -> [[Float]] {
        if sequences.isEmpty { return [] }
        try validate(sequences, tokenTypes: tokenTypes)
        lock.lock()
        defer { lock.unlock() }
        let lengths = sequences.map(\.count)
        let width = dense.reduce(encoder.hiddenSize) { max($0, $1.matrix.outFeatures) }
        let scratch = try run(
            sequences, tokenTypes: tokenTypes, lengths: lengths, headWidth: width, betweenLayers: betweenLayers)
        let hidden = encoder.hiddenSize
        let count = sequences.count
        let pooled = scratch.pooled.pointer // [sequences × hidden]
        var row = 0
        for (index, length) in lengths.enumerated() {
            pooling.pool(
                scratch.residual.pointer + row * hidden, rows: length, width: hidden, into: pooled + index * hidden)
            row += length
        }
        var input = scratch.pooled.pointer, output = scratch.dense.pointer
        var inputWidth = hidden
        for layer in dense {
            let outputWidth = layer.matrix.outFeatures
            matmul(
                input, rows: count, rowStride: inputWidth, layer.matrix, into: output, rowStride: outputWidth,
                pool: pool)
            layer.bias?.withUnsafeBufferPointer { bias in
                addBias(output, rowStride: outputWidth, rows: count, columns: outputWidth, bias: bias.baseAddress!)
            }
            if layer.activation == .tanh {
                for i in 0..<count * outputWidth { output[i] = Foundation.tanh(output[i]) }
            }
            swap(&input, &output)
            inputWidth = outputWidth
        }
        return try (0..<count).map { index in
            let vector = UnsafeBufferPointer(start: input + index * inputWidth, count: inputWidth)
            try checkFinite(vector, sequence: index)
            return Array(vector)
        }
    }

    /// The encoder's last token states per sequence: [n_i × hidden] flattened row-major; `betweenLayers` as in `embed`.
    package func tokenEmbeddings(_ sequences: [[Int32]], betweenLayers: () -> Void = {}) throws -> [[Float]] {
        if sequences.isEmpty { return [] }
        try validate(sequences)
        lock.lock()
        defer { lock.unlock() }
        let lengths = sequences.map(\.count)
        let scratch = try run(
            sequences, tokenTypes: nil, lengths: lengths, headWidth: encoder.hiddenSize, betweenLayers: betweenLayers)
        let hidden = encoder.hiddenSize
        var row = 0
        return try lengths.enumerated().map { index, length in
            defer { row += length }
            let states = UnsafeBufferPointer(start: scratch.residual.pointer + row * hidden, count: length * hidden)
            try checkFinite(states, sequence: index)
            return Array(states)
        }
    }

    /// Runs the encoder over the packed batch on the buffers of this nesting depth and returns them, the token states
    /// in their `residual`. Call with `lock` held.
    private func run(
        _ sequences: [[Int32]], tokenTypes: [[Int32]]?, lengths: [Int], headWidth: Int, betweenLayers: () -> Void
    ) throws -> EncoderScratch {
        precondition(depth < scratches.count, "a batch run between layers cannot be paused in turn")
        let scratch = scratches[depth]
        depth += 1
        defer { depth -= 1 }
        let ids = Array(sequences.joined())
        encoder.reserve(scratch, tokens: ids.count, sequences: sequences.count, headWidth: headWidth)
        try encoder.forward(
            ids: ids, tokenTypes: tokenTypes.map { Array($0.joined()) }, lengths: lengths, scratch: scratch, pool: pool,
            betweenLayers: betweenLayers)
        return scratch
    }

    /// Throws for a NaN or infinity in an output: a broken weight poisons every vector it touches, and serving
    /// those would hand clients garbage that looks like an answer. One pass over the returned values only.
    private func checkFinite(_ values: UnsafeBufferPointer<Float>, sequence: Int) throws {
        guard values.allSatisfy(\.isFinite) else { throw EmbeddingError.nonFiniteOutput(sequence: sequence) }
    }

    private func validate(_ sequences: [[Int32]], tokenTypes: [[Int32]]? = nil) throws {
        if let tokenTypes {
            guard tokenTypes.count == sequences.count else {
                throw EmbeddingError.tokenTypesInvalid(
                    sequence: min(tokenTypes.count, sequences.count),
                    reason: "\(tokenTypes.count) token type lists for \(sequences.count) sequences")
            }
            let limit = encoder.typeVocabularySize
            for (index, types) in tokenTypes.enumerated() {
                guard types.count == sequences[index].count else {
                    throw EmbeddingError.tokenTypesInvalid(
                        sequence: index, reason: "\(types.count) token types for \(sequences[index].count) tokens")
                }
                if let type = types.first(where: { $0 < 0 || Int($0) >= limit }) {
                    throw EmbeddingError.tokenTypesInvalid(
                        sequence: index, reason: "token type \(type) is outside the model's type table (0..<\(limit))")
                }
            }
        }
        let vocabularySize = info.vocabularySize
        for (index, sequence) in sequences.enumerated() {
            if sequence.isEmpty { throw EmbeddingError.emptySequence(index: index) }
            if sequence.count > encoder.maxPositions {
                throw EmbeddingError.sequenceTooLong(
                    index: index, tokens: sequence.count, maxTokens: encoder.maxPositions)
            }
            if let position = sequence.firstIndex(where: { $0 < 0 || Int($0) >= vocabularySize }) {
                throw EmbeddingError.tokenOutOfRange(
                    sequence: index, position: position, id: sequence[position],
                    vocabularySize: vocabularySize)
            }
        }
    }
}

/// Matryoshka cut to `dimensions` (nil = all) then optional L2 normalisation (norm computed in Float64).
package func finalizeEmbedding(_ raw: [Float], dimensions: Int?, normalize: Bool) -> [Float] {
    let cut = dimensions.map { Array(raw.prefix(max(0, $0))) } ?? raw
    guard normalize else { return cut }
    let norm = cut.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
    // torch.nn.functional.normalize's floor: an all-zero vector stays zero instead of becoming NaN.
    let inverse = 1 / max(norm, 1e-12)
    return cut.map { Float(Double($0) * inverse) }
}
