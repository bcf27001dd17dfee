import Foundation
import Kernels
import Safetensors

/// A cross-encoder's sequence-classification head (`*ForSequenceClassification` in `architectures`), read from
/// config.json: which head the checkpoint has and its labels.
struct ClassifierConfiguration: Sendable, Equatable {
    /// How the first token's state becomes the logits.
    enum Head: Sendable, Equatable {
        /// BERT's: the pooler (`pooler.dense` + tanh), then `classifier`.
        case pooler
        /// RoBERTa's, XLM-R's and MPNet's: `classifier.dense` + tanh, then `classifier.out_proj`.
        case roberta
    }

    static let architectures: [String: Head] = [
        "BertForSequenceClassification": .pooler, "RobertaForSequenceClassification": .roberta,
        "XLMRobertaForSequenceClassification": .roberta, "MPNetForSequenceClassification": .roberta,
    ]

    var head: Head
    /// `id2label` in id order: one logit per label.
    var labels: [String]

    /// The head `config.json` names, or nil for an encoder without one.
    init?(_ json: JSONObject) throws {
        guard let architectures = try json.optionalStringArray("architectures"),
            let name = architectures.first(where: { $0.hasSuffix("ForSequenceClassification") })
        else { return nil }
        guard let head = Self.architectures[name] else {
            throw ModelLoadError.unsupported(
                file: json.file, field: "architectures", value: name,
                supported: Self.architectures.keys.sorted().joined(separator: ", "))
        }
        self.head = head
        labels = try Self.labels(json)
    }

    /// `id2label` as transformers writes it (`{"0": "LABEL_0"}`), its keys exactly 0..<n; else the older `num_labels`
    /// with transformers' default names.
    private static func labels(_ json: JSONObject) throws -> [String] {
        // More labels than any published classifier, small enough that the head's matrix stays small.
        let limit = 1 << 16
        guard let map = try json.optionalStringMap("id2label") else {
            let count = try json.size("num_labels", limit: limit)
            return (0..<count).map { "LABEL_\($0)" }
        }
        guard (1...limit).contains(map.count) else {
            throw ModelLoadError.invalidField(
                file: json.file, field: "id2label", reason: "must have 1...\(limit) labels, has \(map.count)")
        }
        return try (0..<map.count).map { id in
            guard let label = map[String(id)] else {
                throw ModelLoadError.invalidField(
                    file: json.file, field: "id2label",
                    reason: "has \(map.count) labels but no id \(id): its keys must be 0...\(map.count - 1)")
            }
            return label
        }
    }

    /// The head's two Linears from the checkpoint (`prefix` is the encoder's, `bert.` for BERT's pooler), packed
    /// at `precision`, with every name read added to `used`.
    func weights(
        _ file: SafetensorsFile, prefix: String, hidden: Int, precision: WeightPrecision, used: inout Set<String>
    ) throws -> [DenseWeights] {
        let (dense, output) =
            switch head {
            case .pooler: (prefix + "pooler.dense.", "classifier.")
            case .roberta: ("classifier.dense.", "classifier.out_proj.")
            }
        func linear(_ name: String, outFeatures: Int, activation: DenseActivation) throws -> DenseWeights {
            used.formUnion([name + "weight", name + "bias"])
            let weights = try file.floatArray(name + "weight", shape: [outFeatures, hidden])
            return DenseWeights(
                matrix: weights.withUnsafeBufferPointer {
                    PackedMatrix(weights: $0, outFeatures: outFeatures, inFeatures: hidden, precision: precision)
                },
                bias: try file.floatArray(name + "bias", shape: [outFeatures]), activation: activation)
        }
        return [
            try linear(dense, outFeatures: hidden, activation: .tanh),
            try linear(output, outFeatures: labels.count, activation: .identity),
        ]
    }
}

/// TEI's scores from a classifier's logits: the sigmoid of a single logit (a reranker's relevance), the softmax over
/// several (one probability per label). Computed in Float64, with the softmax's maximum subtracted first.
package func classificationScores(_ logits: [Float]) -> [Float] {
    guard logits.count > 1 else { return logits.map { Float(1 / (1 + exp(-Double($0)))) } }
    let largest = Double(logits.max()!)
    let exponentials = logits.map { exp(Double($0) - largest) }
    let sum = exponentials.reduce(0, +)
    return exponentials.map { Float($0 / sum) }
}
