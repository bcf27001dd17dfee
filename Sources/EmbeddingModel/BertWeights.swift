import Foundation
import Kernels
import Safetensors

/// A LayerNorm's γ and β.
struct LayerNormWeights: Sendable {
    let weight: [Float]
    let bias: [Float]

    init(_ file: SafetensorsFile, _ prefix: String, width: Int, used: inout Set<String>) throws {
        used.formUnion([prefix + "weight", prefix + "bias"])
        weight = try file.floatArray(prefix + "weight", shape: [width])
        bias = try file.floatArray(prefix + "bias", shape: [width])
    }
}

/// One BERT layer's weights, the Linears packed for the GEMM.
struct BertLayerWeights: Sendable {
    /// query | key | value stacked: `[3·hidden × hidden]`, and their biases `[3·hidden]`.
    let queryKeyValue: PackedMatrix
    let queryKeyValueBias: [Float]
    /// `[hidden × hidden]`
    let output: PackedMatrix
    let outputBias: [Float]
    let attentionNorm: LayerNormWeights
    /// `[intermediate × hidden]`
    let intermediate: PackedMatrix
    let intermediateBias: [Float]
    /// `[hidden × intermediate]`
    let down: PackedMatrix
    let downBias: [Float]
    let outputNorm: LayerNormWeights
}

/// Every weight `BertEncoder` reads, by transformers' `BertModel` / `RobertaModel` / `MPNetModel` names. The word
/// embedding table stays in the file (F32): the forward pass reads the rows a batch needs.
struct BertWeights: Sendable {
    let file: SafetensorsFile
    /// Where the `[vocabularySize × hidden]` fp32 word embedding table starts in `file`.
    let wordEmbeddingOffset: Int
    /// `[maxPositionEmbeddings × hidden]`
    let positionEmbeddings: [Float]
    /// `[typeVocabularySize × hidden]`; for MPNet, which has none, one zero row, which adds exactly nothing.
    let tokenTypeEmbeddings: [Float]
    /// MPNet's `[buckets × heads]` relative position bias (`encoder.relative_attention_bias`); nil for the others.
    let relativeAttentionBias: [Float]?
    let embeddingNorm: LayerNormWeights
    let layers: [BertLayerWeights]
    /// A cross-encoder's head on the first token: its dense + tanh, then the Linear to one logit per label.
    let classifierHead: [DenseWeights]?

    /// Tensors a checkpoint may carry that the encoder does not read: the pooler (sentence-transformers pools by
    /// itself; a BERT cross-encoder's head marks it used), a masked-LM head, and the position/type id buffers older
    /// transformers saved.
    static func isIgnored(_ name: String, prefix: String) -> Bool {
        let bare = name.hasPrefix(prefix) ? String(name.dropFirst(prefix.count)) : name
        return bare.hasPrefix("pooler.") || name.hasPrefix("cls.") || name.hasPrefix("lm_head.")
            || bare == "embeddings.position_ids" || bare == "embeddings.token_type_ids"
    }

    /// `precision` applies to every packed Linear; embeddings, norms and biases stay fp32.
    init(directory: String, config: BertConfiguration, precision: WeightPrecision) throws {
        let path = (directory as NSString).appendingPathComponent("model.safetensors")
        let file = try ModelWeights.openWeights(path)
        self.file = file
        // A bare BertModel checkpoint has no prefix (nor has sentence-transformers' MPNetModel); one saved from a
        // wrapping model puts it under `bert.`, `roberta.` or `mpnet.`.
        let prefix =
            ["", "bert.", "roberta.", "mpnet."].first { file.tensors[$0 + "embeddings.word_embeddings.weight"] != nil }
            ?? ""
        let names = config.relativePositionBuckets == nil ? LayerNames.bert : LayerNames.mpnet
        let hidden = config.hiddenSize, intermediate = config.intermediateSize
        var used: Set<String> = []
        func tensorName(_ name: String) -> String {
            used.insert(prefix + name)
            return prefix + name
        }
        let wordName = tensorName("embeddings.word_embeddings.weight")
        // `floatInfo` checks that it is F32 of this shape; the forward pass then reads its rows from the file.
        _ = try file.floatInfo(wordName, shape: [config.vocabularySize, hidden])
        wordEmbeddingOffset = try file.info(wordName).fileOffset
        positionEmbeddings = try file.floatArray(
            tensorName("embeddings.position_embeddings.weight"), shape: [config.maxPositionEmbeddings, hidden])
        if let buckets = config.relativePositionBuckets {
            tokenTypeEmbeddings = [Float](repeating: 0, count: hidden)
            relativeAttentionBias = try file.floatArray(
                tensorName("encoder.relative_attention_bias.weight"), shape: [buckets, config.headCount])
        } else {
            tokenTypeEmbeddings = try file.floatArray(
                tensorName("embeddings.token_type_embeddings.weight"), shape: [config.typeVocabularySize, hidden])
            relativeAttentionBias = nil
        }
        embeddingNorm = try LayerNormWeights(file, prefix + "embeddings.LayerNorm.", width: hidden, used: &used)

        var layers: [BertLayerWeights] = []
        let reader = LayerTensorReader(file: file)
        for index in 0..<config.layerCount {
            let layer = "encoder.layer.\(index)."
            reader.startLayer(prefix: prefix + layer)
            func matrix(_ name: String, _ rows: Int, _ columns: Int) throws -> UnsafeBufferPointer<Float> {
                try reader.matrix(tensorName(layer + name), rows: rows, columns: columns)
            }
            func vector(_ name: String, _ width: Int) throws -> [Float] {
                try file.floatArray(tensorName(layer + name), shape: [width])
            }
            layers.append(
                BertLayerWeights(
                    queryKeyValue: PackedMatrix(
                        stacking: [
                            (try matrix(names.query + "weight", hidden, hidden), hidden),
                            (try matrix(names.key + "weight", hidden, hidden), hidden),
                            (try matrix(names.value + "weight", hidden, hidden), hidden),
                        ], inFeatures: hidden, precision: precision),
                    queryKeyValueBias: try vector(names.query + "bias", hidden)
                        + vector(names.key + "bias", hidden) + vector(names.value + "bias", hidden),
                    output: PackedMatrix(
                        weights: try matrix(names.output + "weight", hidden, hidden),
                        outFeatures: hidden, inFeatures: hidden, precision: precision),
                    outputBias: try vector(names.output + "bias", hidden),
                    attentionNorm: try LayerNormWeights(
                        file, prefix + layer + names.attentionNorm, width: hidden, used: &used),
                    intermediate: PackedMatrix(
                        weights: try matrix("intermediate.dense.weight", intermediate, hidden),
                        outFeatures: intermediate, inFeatures: hidden, precision: precision),
                    intermediateBias: try vector("intermediate.dense.bias", intermediate),
                    down: PackedMatrix(
                        weights: try matrix("output.dense.weight", hidden, intermediate),
                        outFeatures: hidden, inFeatures: intermediate, precision: precision),
                    downBias: try vector("output.dense.bias", hidden),
                    outputNorm: try LayerNormWeights(
                        file, prefix + layer + "output.LayerNorm.", width: hidden, used: &used)))
        }
        self.layers = layers
        classifierHead = try config.classifier?.weights(
            file, prefix: prefix, hidden: hidden, precision: precision, used: &used)
        try ModelWeights.checkAllUsed(file, used.union(file.tensors.keys.filter { Self.isIgnored($0, prefix: prefix) }))
    }
}

/// Where a layer's attention tensors live under `encoder.layer.<n>.`; the feed-forward ones have the same names in
/// every family.
private struct LayerNames {
    var query: String
    var key: String
    var value: String
    var output: String
    var attentionNorm: String

    static let bert = LayerNames(
        query: "attention.self.query.", key: "attention.self.key.", value: "attention.self.value.",
        output: "attention.output.dense.", attentionNorm: "attention.output.LayerNorm.")
    static let mpnet = LayerNames(
        query: "attention.attn.q.", key: "attention.attn.k.", value: "attention.attn.v.", output: "attention.attn.o.",
        attentionNorm: "attention.LayerNorm.")
}
