import Foundation

/// One model repository inside the Hugging Face cache, laid out as `huggingface_hub` does:
/// `models--ORG--NAME/refs/REVISION` holds a commit id, `snapshots/COMMIT/FILE` are symlinks into `blobs/ETAG`.
struct HubRepoCache: Sendable {
    let cacheDirectory: URL
    let repoID: String

    var folderName: String { "models--" + repoID.replacingOccurrences(of: "/", with: "--") }
    var repoDirectory: URL { cacheDirectory.appendingPathComponent(folderName, isDirectory: true) }
    var blobsDirectory: URL { repoDirectory.appendingPathComponent("blobs", isDirectory: true) }
    var lockFile: URL {
        cacheDirectory.appendingPathComponent(".locks", isDirectory: true)
            .appendingPathComponent(folderName, isDirectory: true).appendingPathComponent("download.lock")
    }

    func refFile(_ revision: String) -> URL {
        repoDirectory.appendingPathComponent("refs", isDirectory: true).appendingPathComponent(revision)
    }

    func snapshotDirectory(commit: String) -> URL {
        repoDirectory.appendingPathComponent("snapshots", isDirectory: true).appendingPathComponent(
            commit, isDirectory: true)
    }

    /// The snapshot a revision names: through `refs/REVISION` when it exists, else `snapshots/REVISION` (a commit id).
    func snapshotDirectory(revision: String) -> URL {
        if let commit = try? String(contentsOf: refFile(revision), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines), !commit.isEmpty
        {
            return snapshotDirectory(commit: commit)
        }
        return snapshotDirectory(commit: revision)
    }

    /// The cached snapshot for `revision` if it holds everything the server loads, else nil.
    func completeSnapshot(revision: String) -> URL? {
        let directory = snapshotDirectory(revision: revision)
        return ModelFiles.missing(in: directory).isEmpty ? directory : nil
    }
}

/// Which files of a sentence-transformers repository the server needs.
enum ModelFiles {
    /// Top-level files fetched when the repository has them.
    static let topLevel = [
        "config.json", "modules.json", "config_sentence_transformers.json", "sentence_bert_config.json",
        "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "model.safetensors",
    ]
    /// Files without which nothing can be served.
    static let required = ["config.json", "tokenizer.json", "model.safetensors", "modules.json"]

    /// The repository files to download: the top-level set plus the JSON and safetensors files of the
    /// numbered module folders (`1_Pooling/`, `2_Dense/`, `3_Dense/`, …).
    static func wanted(from repositoryFiles: [String]) -> [String] {
        repositoryFiles.filter { path in
            if topLevel.contains(path) { return true }
            let parts = path.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, let digit = parts[0].first, digit.isNumber, parts[0].contains("_") else {
                return false
            }
            return parts[1].hasSuffix(".json") || parts[1].hasSuffix(".safetensors")
        }.sorted()
    }

    /// What a snapshot directory lacks: the required files, and what the loader reads from the module folders
    /// `modules.json` lists: a Pooling module's `config.json`, a Dense module's `config.json` and weights.
    /// Modules without parameters (`Normalize`) have no folder content in the Hub's repositories.
    static func missing(in directory: URL) -> [String] {
        let fileManager = FileManager.default
        var expected = required
        let modulesFile = directory.appendingPathComponent("modules.json")
        if let data = try? Data(contentsOf: modulesFile),
            let modules = try? JSONDecoder().decode([ModuleEntry].self, from: data)
        {
            for module in modules where !module.path.isEmpty {
                if module.type.hasSuffix("Pooling") || module.type.hasSuffix("Dense") {
                    expected.append(module.path + "/config.json")
                }
                if module.type.hasSuffix("Dense") { expected.append(module.path + "/model.safetensors") }
            }
        }
        // fileExists follows symlinks, so a snapshot link to a missing blob counts as missing.
        return expected.filter { !fileManager.fileExists(atPath: directory.appendingPathComponent($0).path) }
    }

    private struct ModuleEntry: Decodable {
        let path: String
        let type: String
    }
}
