import Foundation

/// Turns a `--model-id` into a local model directory: a directory as is, or a Hugging Face id found in
/// (or downloaded into) the Hugging Face cache.
package struct ModelHub: Sendable {
    /// The `hub` cache folder (`models--ORG--NAME/…` live inside it).
    package var cacheDirectory: URL
    /// The Hub's base URL (`HF_ENDPOINT`).
    package var endpoint: URL
    /// Sent as `Authorization: Bearer …` to the Hub's own host, never to the hosts it redirects to.
    package var token: String?
    /// When true only the cache is consulted (`HF_HUB_OFFLINE=1`).
    package var offline: Bool
    /// Bounds connecting and each read or write on the network.
    package var timeoutSeconds: Int
    /// A PEM file of CAs to trust instead of the system store.
    package var trustedCAFile: String?

    /// Reads the same environment variables as `huggingface_hub`: HUGGINGFACE_HUB_CACHE, HF_HUB_CACHE, HF_HOME,
    /// HF_ENDPOINT, HF_TOKEN (or HUGGING_FACE_HUB_TOKEN, or the token file `huggingface-cli login` writes),
    /// HF_HUB_OFFLINE and HF_HUB_DOWNLOAD_TIMEOUT.
    package init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        func value(_ name: String) -> String? {
            guard let text = environment[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else {
                return nil
            }
            return text
        }
        let home = value("HOME") ?? FileManager.default.homeDirectoryForCurrentUser.path
        let hfHome = value("HF_HOME") ?? home + "/.cache/huggingface"
        let cachePath = value("HUGGINGFACE_HUB_CACHE") ?? value("HF_HUB_CACHE") ?? hfHome + "/hub"
        cacheDirectory = URL(fileURLWithPath: cachePath, isDirectory: true)
        endpoint = value("HF_ENDPOINT").flatMap { URL(string: $0) } ?? URL(string: "https://huggingface.co")!
        let tokenFile = value("HF_TOKEN_PATH") ?? hfHome + "/token"
        token =
            value("HF_TOKEN") ?? value("HUGGING_FACE_HUB_TOKEN")
            ?? (try? String(contentsOfFile: tokenFile, encoding: .utf8))?.trimmingCharacters(
                in: .whitespacesAndNewlines)
        if token?.isEmpty == true { token = nil }
        offline = ["1", "on", "yes", "true"].contains(value("HF_HUB_OFFLINE")?.lowercased() ?? "")
        timeoutSeconds = value("HF_HUB_DOWNLOAD_TIMEOUT").flatMap { Int($0) } ?? 30
        trustedCAFile = nil
    }

    /// The directory to load the model from. `log` receives one line per notable step (cache hit, each download).
    package func resolve(modelID: String, revision: String = "main", log: (String) -> Void = { _ in }) throws -> URL {
        let expanded =
            modelID.hasPrefix("~/")
            ? FileManager.default.homeDirectoryForCurrentUser.path + modelID.dropFirst(1) : modelID
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: expanded, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw ModelHubError.notADirectory(path: expanded) }
            return URL(fileURLWithPath: expanded, isDirectory: true).standardizedFileURL
        }
        if expanded.hasPrefix("/") || expanded.hasPrefix("./") || expanded.hasPrefix("../") || expanded.hasPrefix("~") {
            throw ModelHubError.localDirectoryNotFound(path: expanded)
        }
        guard Self.isValidRepoID(modelID) else { throw ModelHubError.invalidModelID(modelID) }
        guard Self.isValidRevision(revision) else {
            throw ModelHubError.notFound(
                modelID: modelID, revision: revision, serverMessage: "not a valid revision name")
        }
        let repo = HubRepoCache(cacheDirectory: cacheDirectory, repoID: modelID)
        if let snapshot = repo.completeSnapshot(revision: revision) {
            log("using cached \(modelID)@\(revision) at \(snapshot.path)")
            return snapshot
        }
        if offline {
            throw ModelHubError.notCachedWhileOffline(
                modelID: modelID, revision: revision, cachePath: repo.repoDirectory.path)
        }
        return try withoutActuallyEscaping(log) { log in
            try HubDownloader(hub: self, repo: repo, revision: revision, log: log).run()
        }
    }

    /// `NAME` or `ORG/NAME`, each part of letters, digits, `-`, `_` and `.`, as the Hub allows.
    static func isValidRepoID(_ id: String) -> Bool {
        let parts = id.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count) else { return false }
        return parts.allSatisfy { part in
            !part.isEmpty && part != "." && part != ".." && !part.hasPrefix("--") && !part.hasSuffix("--")
                && part.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
        }
    }

    /// Branch, tag or commit names; `/` is allowed (`refs/pr/1`), `..` is not, so it cannot escape `refs/`.
    static func isValidRevision(_ revision: String) -> Bool {
        !revision.isEmpty && !revision.hasPrefix("/") && !revision.split(separator: "/").contains("..")
            && revision.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_./".contains($0)) }
    }
}
