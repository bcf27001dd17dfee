import Foundation
import Kernels
import Safetensors

/// RMSNorm weights stored as (1 + w), the factor Gemma's norm multiplies by, computed once in fp32 as the reference does.
struct NormWeights: Sendable {
    let plusOne: [Float]

    init(_ file: SafetensorsFile, _ name: String, width: Int) throws {
        plusOne = try file.floatArray(name, shape: [width]).map { 1 + $0 }
    }
}

/// One decoder layer's weights, packed for the GEMM.
struct LayerWeights: Sendable {
    let kind: AttentionKind
    let inputNorm: NormWeights
    /// q | k | v stacked: `[(heads + 2·kvHeads)·headDim × hidden]`.
    let queryKeyValue: PackedMatrix
    let queryNorm: NormWeights
    let keyNorm: NormWeights
    /// `[hidden × heads·headDim]`
    let output: PackedMatrix
    let postAttentionNorm: NormWeights
    let preFeedforwardNorm: NormWeights
    /// gate and up, `[intermediate × hidden]` each, packed for the fused gelu(gate)·up.
    let gateUp: GatedProjections
    /// `[hidden × intermediate]`
    let down: PackedMatrix
    let postFeedforwardNorm: NormWeights
}

/// Every weight the Gemma3 encoder reads. The embedding table stays in the file: the forward pass
/// reads the rows a batch needs.
///
/// The encoder's matrices and the embedding table are read in place and must be F32 (as the published model is);
/// norms are copied and may also be BF16 or F16.
struct ModelWeights: Sendable {
    /// Kept open for the embedding rows.
    let file: SafetensorsFile
    /// Where the `[vocabularySize × hidden]` fp32 embedding table starts in `file`.
    let embeddingOffset: Int
    let layers: [LayerWeights]
    let finalNorm: NormWeights

    /// `precision` applies to every packed Linear; norms and the embedding table stay fp32.
    init(directory: String, encoder config: EncoderConfiguration, precision: WeightPrecision) throws {
        let path = (directory as NSString).appendingPathComponent("model.safetensors")
        let file = try Self.openWeights(path)
        self.file = file
        // Gemma3TextModel checkpoints have bare names; ones saved from a wrapping model put them under `model.`.
        let prefix =
            file.tensors["embed_tokens.weight"] == nil && file.tensors["model.embed_tokens.weight"] != nil
            ? "model." : ""
        let hidden = config.hiddenSize, headDim = config.headDim
        let queryWidth = config.queryHeadCount * headDim, keyValueWidth = config.keyValueHeadCount * headDim
        let embeddingName = prefix + "embed_tokens.weight"
        // `floatInfo` checks that it is F32 of this shape; the forward pass then reads its rows from the file.
        _ = try file.floatInfo(embeddingName, shape: [config.vocabularySize, hidden])
        embeddingOffset = try file.info(embeddingName).fileOffset
        var used: Set<String> = [embeddingName, prefix + "norm.weight"]

        var packedLayers: [LayerWeights] = []
        let reader = LayerTensorReader(file: file)
        for (index, kind) in config.layerKinds.enumerated() {
            let layer = "\(prefix)layers.\(index)."
            reader.startLayer(prefix: layer)
            func matrix(_ name: String, _ rows: Int, _ columns: Int) throws -> UnsafeBufferPointer<Float> {
                used.insert(layer + name)
                return try reader.matrix(layer + name, rows: rows, columns: columns)
            }
            func norm(_ name: String, _ width: Int) throws -> NormWeights {
                used.insert(layer + name)
                return try NormWeights(file, layer + name, width: width)
            }
            let intermediate = config.intermediateSize
            packedLayers.append(
                LayerWeights(
                    kind: kind,
                    inputNorm: try norm("input_layernorm.weight", hidden),
                    queryKeyValue: PackedMatrix(
                        stacking: [
                            (try matrix("self_attn.q_proj.weight", queryWidth, hidden), queryWidth),
                            (try matrix("self_attn.k_proj.weight", keyValueWidth, hidden), keyValueWidth),
                            (try matrix("self_attn.v_proj.weight", keyValueWidth, hidden), keyValueWidth),
                        ], inFeatures: hidden, precision: precision),
                    queryNorm: try norm("self_attn.q_norm.weight", headDim),
                    keyNorm: try norm("self_attn.k_norm.weight", headDim),
                    output: PackedMatrix(
                        weights: try matrix("self_attn.o_proj.weight", hidden, queryWidth),
                        outFeatures: hidden, inFeatures: queryWidth, precision: precision),
                    postAttentionNorm: try norm("post_attention_layernorm.weight", hidden),
                    preFeedforwardNorm: try norm("pre_feedforward_layernorm.weight", hidden),
                    gateUp: GatedProjections(
                        gate: try matrix("mlp.gate_proj.weight", intermediate, hidden),
                        up: try matrix("mlp.up_proj.weight", intermediate, hidden),
                        outFeatures: intermediate, inFeatures: hidden, precision: precision),
                    down: PackedMatrix(
                        weights: try matrix("mlp.down_proj.weight", hidden, intermediate),
                        outFeatures: hidden, inFeatures: intermediate, precision: precision),
                    postFeedforwardNorm: try norm("post_feedforward_layernorm.weight", hidden)
                ))
        }
        layers = packedLayers
        finalNorm = try NormWeights(file, prefix + "norm.weight", width: hidden)
        try Self.checkAllUsed(file, used)
    }

    /// Opens a weights file: a missing one is `missingFile`; any other failure is `SafetensorsFile`'s error, with
    /// the system's reason (permission denied, not a directory, …).
    static func openWeights(_ path: String) throws -> SafetensorsFile {
        var status = stat()
        if stat(path, &status) != 0 && errno == ENOENT { throw ModelLoadError.missingFile(path: path) }
        return try SafetensorsFile(path: path)
    }

    /// A tensor the model does not read means config.json does not describe this checkpoint (12 of its 24 layers,
    /// say): serving it would give wrong vectors without a word, so it is an error naming a few of them.
    static func checkAllUsed(_ file: SafetensorsFile, _ used: Set<String>) throws {
        let unused = file.tensors.keys.filter { !used.contains($0) }.sorted()
        guard unused.isEmpty else {
            throw ModelLoadError.unusedTensors(path: file.path, names: Array(unused.prefix(3)), count: unused.count)
        }
    }
}
