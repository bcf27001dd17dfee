import Foundation

/// The BERT-family encoder's hyper-parameters (`bert`, `roberta`, `xlm-roberta`, `mpnet`), read from `config.json` and
/// checked against what `BertEncoder` implements: post-LayerNorm, absolute positions, token types (none for MPNet),
/// MPNet's relative position bias, biases, exact GELU; and the classification head when `architectures` names one.
struct BertConfiguration: Sendable, Equatable {
    /// How position ids are counted.
    enum Positions: Sendable, Equatable {
        /// 0, 1, 2, … (BERT).
        case fromZero
        /// RoBERTa's: padding_idx + 1, + 2, … over the tokens that are not `padding_idx`; a token equal to it takes
        /// position padding_idx itself, as `create_position_ids_from_input_ids` does.
        case afterPadding(paddingIndex: Int)
    }

    var modelType: String
    var hiddenSize: Int
    var layerCount: Int
    var headCount: Int
    var headDim: Int
    var intermediateSize: Int
    var vocabularySize: Int
    var maxPositionEmbeddings: Int
    var typeVocabularySize: Int
    var layerNormEpsilon: Float
    var positions: Positions
    /// MPNet's relative position buckets (32), each with one attention bias per head; nil for the others.
    var relativePositionBuckets: Int?
    /// The sequence-classification head of a cross-encoder checkpoint; nil for an embedding encoder.
    var classifier: ClassifierConfiguration?

    static let modelTypes: Set<String> = ["bert", "roberta", "xlm-roberta", "mpnet"]

    /// Longest sequence the position table covers: RoBERTa's first padding_idx + 1 rows are never used by a token.
    var maxPositions: Int {
        switch positions {
        case .fromZero: maxPositionEmbeddings
        case .afterPadding(let paddingIndex): maxPositionEmbeddings - paddingIndex - 1
        }
    }

    /// Reads and validates `config.json` (whose `model_type` is one of `modelTypes`).
    init(path: String) throws {
        let json = try JSONObject(path: path)
        modelType = try json.string("model_type")
        guard Self.modelTypes.contains(modelType) else {
            throw ModelLoadError.unsupported(
                file: path, field: "model_type", value: modelType,
                supported: Self.modelTypes.sorted().joined(separator: ", "))
        }
        hiddenSize = try json.size("hidden_size", limit: 1 << 16)
        layerCount = try json.size("num_hidden_layers", limit: 1 << 10)
        headCount = try json.size("num_attention_heads", limit: 1 << 10)
        guard hiddenSize % headCount == 0 else {
            throw ModelLoadError.invalidField(
                file: path, field: "num_attention_heads",
                reason: "(\(headCount)) must divide hidden_size (\(hiddenSize))")
        }
        headDim = hiddenSize / headCount
        intermediateSize = try json.size("intermediate_size", limit: 1 << 18)
        vocabularySize = try json.size("vocab_size", limit: 1 << 24)
        maxPositionEmbeddings = try json.size("max_position_embeddings", limit: 1 << 17)
        // MPNet has no token type table: one type, 0, whose embedding `BertWeights` makes a zero row.
        typeVocabularySize =
            try modelType == "mpnet" ? 1 : json.size("type_vocab_size", limit: 1 << 10, default: 2)
        let epsilon = try json.optionalDouble("layer_norm_eps") ?? 1e-12
        layerNormEpsilon = Float(epsilon)
        guard layerNormEpsilon > 0, layerNormEpsilon.isFinite else {
            throw ModelLoadError.invalidField(
                file: path, field: "layer_norm_eps", reason: "must be a positive finite float, is \(epsilon)")
        }
        switch modelType {
        case "bert":
            positions = .fromZero
        case "mpnet":
            // MPNetEmbeddings fixes padding_idx at 1, whatever pad_token_id says.
            guard maxPositionEmbeddings > 2 else {
                throw ModelLoadError.invalidField(
                    file: path, field: "max_position_embeddings",
                    reason: "must be at least 3 (MPNet's positions start at 2), is \(maxPositionEmbeddings)")
            }
            positions = .afterPadding(paddingIndex: 1)
        default:
            guard let padding = try json.optionalInt("pad_token_id") else {
                throw ModelLoadError.missingField(file: path, field: "pad_token_id")
            }
            guard padding >= 0, padding + 1 < maxPositionEmbeddings else {
                throw ModelLoadError.invalidField(
                    file: path, field: "pad_token_id",
                    reason: "must be in 0..<\(maxPositionEmbeddings - 1) (max_position_embeddings − 1), is \(padding)")
            }
            positions = .afterPadding(paddingIndex: padding)
        }

        let activation = try json.optionalString("hidden_act") ?? "gelu"
        guard activation == "gelu" else {
            throw ModelLoadError.unsupported(
                file: path, field: "hidden_act", value: activation, supported: "gelu (exact, erf)")
        }
        try json.require("position_embedding_type", isAbsentOr: "absolute", supported: "absolute")
        if modelType == "mpnet" {
            // transformers buckets relative positions into 32 whatever this says, and its table has this many rows.
            try json.require("relative_attention_num_buckets", isAbsentOr: 32, supported: "32")
            relativePositionBuckets = 32
        } else {
            relativePositionBuckets = nil
        }
        try json.require("is_decoder", isAbsentOr: false, supported: "false")
        try json.require("add_cross_attention", isAbsentOr: false, supported: "false")
        classifier = try ClassifierConfiguration(json)
    }
}
