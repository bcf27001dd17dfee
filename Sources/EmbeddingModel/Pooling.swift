import Foundation

/// How the sentence-transformers `Pooling` module turns a sequence's token states into one vector.
package enum PoolingMode: String, Sendable, CaseIterable {
    /// The first token's state (BERT's [CLS]).
    case cls
    /// The mean over every token.
    case mean
    /// The per-dimension maximum over every token.
    case max
    /// The sum over every token divided by √(token count).
    case meanSquareRootLength = "mean_sqrt_len_tokens"
    /// The last token's state.
    case lastToken = "lasttoken"

    /// The old boolean spelling of each mode in 1_Pooling/config.json.
    static let flags: [(field: String, mode: PoolingMode)] = [
        ("pooling_mode_cls_token", .cls), ("pooling_mode_mean_tokens", .mean), ("pooling_mode_max_tokens", .max),
        ("pooling_mode_mean_sqrt_len_tokens", .meanSquareRootLength), ("pooling_mode_lasttoken", .lastToken),
    ]

    /// The newer `pooling_mode` string: sentence-transformers' names, with "mean_sqrt_len_tokens" and "lasttoken".
    init?(configName: String) {
        switch configName {
        case "cls": self = .cls
        case "mean": self = .mean
        case "max": self = .max
        case "mean_sqrt_len_tokens": self = .meanSquareRootLength
        case "lasttoken": self = .lastToken
        default: return nil
        }
    }

    /// Reads `1_Pooling/config.json`: exactly one mode (a concatenation of several is not implemented), every token
    /// included (a prompt is part of the pooled tokens), and a width equal to the encoder's.
    init(configPath path: String, hiddenSize: Int) throws {
        let json = try JSONObject(path: path)
        let supported = "one of cls, mean, max, mean_sqrt_len_tokens, lasttoken"
        if let name = try json.optionalString("pooling_mode") {
            guard let mode = PoolingMode(configName: name) else {
                throw ModelLoadError.unsupported(file: path, field: "pooling_mode", value: name, supported: supported)
            }
            self = mode
        } else {
            var chosen: [PoolingMode] = []
            for (field, mode) in Self.flags where try json.optionalBool(field) == true { chosen.append(mode) }
            guard chosen.count == 1 else {
                throw ModelLoadError.unsupported(
                    file: path, field: "pooling_mode_*",
                    value: chosen.isEmpty ? "none set" : chosen.map(\.rawValue).joined(separator: " + "),
                    supported: "exactly one of the pooling_mode_* flags true")
            }
            self = chosen[0]
        }
        try json.require(
            "pooling_mode_weightedmean_tokens", isAbsentOr: false, supported: "false (not implemented)")
        try json.require("include_prompt", isAbsentOr: true, supported: "true (prompt tokens are pooled too)")
        let width = try json.optionalInt("word_embedding_dimension") ?? json.optionalInt("embedding_dimension")
        if let width, width != hiddenSize {
            throw ModelLoadError.invalidField(
                file: path, field: "word_embedding_dimension",
                reason: "is \(width) but the encoder's hidden_size is \(hiddenSize)")
        }
    }

    /// out = this pooling of `rows` ≥ 1 token states of `width` floats, `width` apart; sums in fp32 in row order like
    /// the reference's masked sum.
    func pool(_ x: UnsafePointer<Float>, rows: Int, width: Int, into out: UnsafeMutablePointer<Float>) {
        switch self {
        case .cls:
            out.update(from: x, count: width)
        case .lastToken:
            out.update(from: x + (rows - 1) * width, count: width)
        case .max:
            out.update(from: x, count: width)
            for row in 1..<rows {
                let source = x + row * width
                for d in 0..<width where source[d] > out[d] { out[d] = source[d] }
            }
        case .mean, .meanSquareRootLength:
            out.initialize(repeating: 0, count: width)
            for row in 0..<rows {
                let source = x + row * width
                for d in 0..<width { out[d] += source[d] }
            }
            let divisor = self == .mean ? Float(rows) : Float(rows).squareRoot()
            for d in 0..<width { out[d] /= divisor }
        }
    }
}
