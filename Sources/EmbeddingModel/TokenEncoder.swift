import Foundation
import Kernels

/// An encoder over a packed batch (sequences concatenated without padding, attention within each sequence): the
/// one interface `SentenceEmbedder` runs, whatever the architecture.
protocol TokenEncoder: Sendable {
    /// Width of the token states.
    var hiddenSize: Int { get }
    /// Rows of the token embedding table.
    var vocabularySize: Int { get }
    /// Longest sequence the encoder's tables cover.
    var maxPositions: Int { get }
    /// Rows of the token type table: valid type ids are 0..<typeVocabularySize (1 for an encoder without types).
    var typeVocabularySize: Int { get }

    /// Makes `scratch` large enough for `tokens` tokens in `sequences` sequences and a head `headWidth` wide.
    func reserve(_ scratch: EncoderScratch, tokens: Int, sequences: Int, headWidth: Int)

    /// Runs the encoder; afterwards `scratch.residual` holds the final token states `[T × hidden]`.
    ///
    /// `ids` are the concatenated sequences, `lengths` their token counts (each ≥ 1, ≤ maxPositions, ids checked
    /// against the vocabulary by the caller); `tokenTypes` one type per token, each below `typeVocabularySize`, or
    /// nil for type 0 throughout. `betweenLayers` is called after each layer but the last, with no pool work in
    /// flight (a preempting batch runs there, with another scratch). Throws when the weights file cannot be read.
    func forward(
        ids: [Int32], tokenTypes: [Int32]?, lengths: [Int], scratch: EncoderScratch, pool: ComputePool,
        betweenLayers: () -> Void
    ) throws
}

extension TokenEncoder {
    /// `forward` with type 0 for every token and nothing between layers: single texts.
    func forward(ids: [Int32], lengths: [Int], scratch: EncoderScratch, pool: ComputePool) throws {
        try forward(ids: ids, tokenTypes: nil, lengths: lengths, scratch: scratch, pool: pool, betweenLayers: {})
    }
}

/// The architectures `SentenceEmbedder` serves, chosen by config.json's `model_type`.
enum Architecture {
    case gemma3(EncoderConfiguration)
    case bert(BertConfiguration)

    static let supportedModelTypes = ["gemma3_text"] + BertConfiguration.modelTypes.sorted()

    /// Reads `model_type` and validates the rest of config.json for that architecture.
    init(configPath: String) throws {
        let modelType = try JSONObject(path: configPath).string("model_type")
        switch modelType {
        case "gemma3_text": self = .gemma3(try EncoderConfiguration(path: configPath))
        case _ where BertConfiguration.modelTypes.contains(modelType):
            self = .bert(try BertConfiguration(path: configPath))
        default:
            throw ModelLoadError.unsupported(
                file: configPath, field: "model_type", value: modelType,
                supported: Self.supportedModelTypes.joined(separator: ", "))
        }
    }

    var hiddenSize: Int {
        switch self {
        case .gemma3(let config): config.hiddenSize
        case .bert(let config): config.hiddenSize
        }
    }

    /// Longest sequence the position tables can cover.
    var maxPositions: Int {
        switch self {
        case .gemma3(let config): config.maxPositionEmbeddings
        case .bert(let config): config.maxPositions
        }
    }
}

extension Encoder: TokenEncoder {
    var hiddenSize: Int { config.hiddenSize }
    var vocabularySize: Int { config.vocabularySize }
    var typeVocabularySize: Int { 1 }

    /// Gemma has no token types: the caller has checked that every one is 0.
    func forward(
        ids: [Int32], tokenTypes: [Int32]?, lengths: [Int], scratch: EncoderScratch, pool: ComputePool,
        betweenLayers: () -> Void
    ) throws {
        try forward(ids: ids, lengths: lengths, scratch: scratch, pool: pool, betweenLayers: betweenLayers)
    }

    func reserve(_ scratch: EncoderScratch, tokens: Int, sequences: Int, headWidth: Int) {
        let queryWidth = config.queryHeadCount * config.headDim
        let qkvWidth = (config.queryHeadCount + 2 * config.keyValueHeadCount) * config.headDim
        scratch.reserve(
            tokens: tokens, sequences: sequences, hidden: config.hiddenSize,
            attentionWidth: max(queryWidth, config.intermediateSize),
            projectionWidth: max(qkvWidth, GatedProjections.scratchWidth(outFeatures: config.intermediateSize)),
            headWidth: headWidth)
    }
}
