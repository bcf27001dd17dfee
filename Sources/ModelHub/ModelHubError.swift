/// Why a model could not be resolved to a local directory.
package enum ModelHubError: Error, Equatable, CustomStringConvertible {
    /// `--model-id` looked like a path, but no such directory exists.
    case localDirectoryNotFound(path: String)
    /// `--model-id` names an existing file that is not a directory (a model is a directory of files).
    case notADirectory(path: String)
    /// `--model-id` is neither a directory nor a Hub id of the form `ORG/NAME`.
    case invalidModelID(String)
    /// `HF_HUB_OFFLINE` is set and the cache has no complete snapshot.
    case notCachedWhileOffline(modelID: String, revision: String, cachePath: String)
    /// The Hub answered 401/403: the repository is gated or private.
    case gated(modelID: String, status: Int, serverMessage: String?)
    /// The Hub answered 404 (or said the repository or revision does not exist).
    case notFound(modelID: String, revision: String, serverMessage: String?)
    /// Any other HTTP failure.
    case httpStatus(url: String, status: Int, serverMessage: String?)
    /// Could not connect, TLS failed, the connection broke or timed out.
    case network(url: String, reason: String)
    /// The server sent something that is not valid HTTP or not the expected JSON.
    case badResponse(url: String, reason: String)
    /// The repository lacks files the server cannot work without.
    case missingFiles(modelID: String, revision: String, files: [String])
    /// A downloaded file's size or hash differs from what the Hub announced.
    case integrity(file: String, detail: String)
    /// The cache directory could not be written.
    case fileSystem(path: String, reason: String)

    package var description: String {
        switch self {
        case .localDirectoryNotFound(let path):
            return "model directory \(path) does not exist"
        case .notADirectory(let path):
            return "--model-id \(path) is a file, not a directory: name the directory that holds config.json, "
                + "tokenizer.json and model.safetensors"
        case .invalidModelID(let id):
            return
                "model id '\(id)' is neither an existing directory nor a Hugging Face id like google/embeddinggemma-300m"
        case .notCachedWhileOffline(let id, let revision, let cachePath):
            return "\(id)@\(revision) is not in the Hugging Face cache at \(cachePath) and HF_HUB_OFFLINE is set: "
                + "unset HF_HUB_OFFLINE to download it, or run scripts/fetch-model.sh (or pass --model-id DIRECTORY)"
        case .gated(let id, let status, let message):
            return "the Hugging Face Hub refused \(id) (HTTP \(status)): it is a gated model: set HF_TOKEN to a token "
                + "of an account that accepted the Gemma terms at https://huggingface.co/\(id)" + Self.suffix(message)
        case .notFound(let id, let revision, let message):
            return "model \(id) or its revision '\(revision)' was not found on the Hugging Face Hub"
                + Self.suffix(message)
        case .httpStatus(let url, let status, let message):
            return "GET \(url) failed with HTTP \(status)" + Self.suffix(message)
        case .network(let url, let reason):
            return "GET \(url) failed: \(reason)"
        case .badResponse(let url, let reason):
            return "unexpected response from \(url): \(reason)"
        case .missingFiles(let id, let revision, let files):
            return "\(id)@\(revision) lacks \(files.joined(separator: ", "))"
        case .integrity(let file, let detail):
            return "download of \(file) is corrupt: \(detail)"
        case .fileSystem(let path, let reason):
            return "cannot write \(path): \(reason)"
        }
    }

    private static func suffix(_ message: String?) -> String {
        guard let message, !message.isEmpty else { return "" }
        return " (Hub: \(message))"
    }
}
