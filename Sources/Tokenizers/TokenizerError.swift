/// Why a tokenizer.json could not be loaded.
package enum TokenizerError: Error, Equatable, CustomStringConvertible {
    /// The file could not be read.
    case unreadableFile(path: String, reason: String)
    /// The file is not valid JSON (the message names the byte offset).
    case invalidJSON(String)
    /// A pipeline component this implementation does not provide, e.g. `normalizer "NFKC"`.
    case unsupportedComponent(kind: String, type: String)
    /// A `model.type` other than the supported ones (listed in the message).
    case unsupportedModel(type: String, supported: [String])
    /// The file is JSON but not a tokenizer.json this implementation understands.
    case invalidTokenizer(String)

    package var description: String {
        switch self {
        case .unreadableFile(let path, let reason): return "cannot read \(path): \(reason)"
        case .invalidJSON(let message): return "tokenizer.json is not valid JSON: \(message)"
        case .unsupportedComponent(let kind, let type):
            return "unsupported \(kind) \"\(type)\" in tokenizer.json (not implemented by this tokenizer)"
        case .unsupportedModel(let type, let supported):
            return
                "unsupported model type \"\(type)\" in tokenizer.json (supported: \(supported.joined(separator: ", ")))"
        case .invalidTokenizer(let message): return "invalid tokenizer.json: \(message)"
        }
    }
}
