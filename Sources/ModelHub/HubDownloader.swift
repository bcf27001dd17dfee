import Foundation
import JSON

#if canImport(Glibc)
    import Glibc
#endif

/// Downloads one revision of a repository into the cache, the way `huggingface_hub` lays it out:
/// each file goes to `blobs/ETAG` (the sha256 for LFS files, the git blob sha1 for the others), verified,
/// through a `.incomplete` file renamed into place; `snapshots/COMMIT/FILE` is a relative symlink to it, and
/// `refs/REVISION` is written last. Other processes sharing the cache wait on a lock file meanwhile.
struct HubDownloader {
    let hub: ModelHub
    let repo: HubRepoCache
    let revision: String
    let log: (String) -> Void

    private static let maxRedirects = 10

    func run() throws -> URL {
        let lock = try acquireLock()
        defer { flock(lock, LOCK_UN); Glibc.close(lock) }
        // Another process may have finished this download while we waited for the lock.
        if let snapshot = repo.completeSnapshot(revision: revision) {
            log("using \(repo.repoID)@\(revision) downloaded by another process at \(snapshot.path)")
            return snapshot
        }
        let (commit, repositoryFiles) = try fetchRevisionInfo()
        let missingRequired = ModelFiles.required.filter { !repositoryFiles.contains($0) }
        guard missingRequired.isEmpty else {
            throw ModelHubError.missingFiles(modelID: repo.repoID, revision: revision, files: missingRequired)
        }
        let files = ModelFiles.wanted(from: repositoryFiles)
        log(
            "downloading \(repo.repoID)@\(revision) (commit \(commit), \(files.count) files) from \(hub.endpoint.absoluteString) into \(repo.repoDirectory.path)"
        )
        for file in files { try download(file, commit: commit) }
        let snapshot = repo.snapshotDirectory(commit: commit)
        let missing = ModelFiles.missing(in: snapshot)
        guard missing.isEmpty else {
            throw ModelHubError.missingFiles(modelID: repo.repoID, revision: revision, files: missing)
        }
        if revision != commit {
            try writeAtomically(Data(commit.utf8), to: repo.refFile(revision))
        }
        log("downloaded \(repo.repoID)@\(revision) to \(snapshot.path)")
        return snapshot
    }

    // MARK: - Hub API

    private struct RevisionInfo: Decodable {
        struct Sibling: Decodable { let rfilename: String }
        let sha: String
        let siblings: [Sibling]
    }

    private func fetchRevisionInfo() throws -> (commit: String, files: [String]) {
        let url = endpointURL(path: "api/models/\(repo.repoID)/revision/\(Self.encodeSegment(revision))")
        let connection = try HTTPConnection(
            url: url, trustedCAFile: hub.trustedCAFile, timeoutSeconds: hub.timeoutSeconds)
        let head = try connection.get(url, headers: authorization())
        let body = try connection.readBodyData(url: url, limitBytes: 16 << 20)
        guard head.status == 200 else { throw failure(head, body: body, url: url) }
        let info: RevisionInfo
        do {
            info = try JSONDecoder().decode(RevisionInfo.self, from: body)
        } catch {
            throw ModelHubError.badResponse(url: url.absoluteString, reason: "not a model revision document: \(error)")
        }
        guard info.sha.count >= 7, info.sha.allSatisfy(\.isHexDigit) else {
            throw ModelHubError.badResponse(
                url: url.absoluteString, reason: "commit id '\(info.sha)' is not hexadecimal")
        }
        let unsafe = info.siblings.map(\.rfilename).filter {
            $0.hasPrefix("/") || $0.split(separator: "/").contains("..")
        }
        guard unsafe.isEmpty else {
            throw ModelHubError.badResponse(
                url: url.absoluteString, reason: "file names escape the snapshot: \(unsafe)")
        }
        return (info.sha, info.siblings.map(\.rfilename))
    }

    // MARK: - Files

    /// What the Hub's own host said about a file before any redirect to a CDN.
    private struct FileMetadata {
        var etag: String?
        var isLFS = false
        var expectedSizeBytes: Int?
    }

    private func download(_ file: String, commit: String) throws {
        let encodedPath = file.split(separator: "/").map { Self.encodeSegment(String($0)) }.joined(separator: "/")
        var url = endpointURL(path: "\(repo.repoID)/resolve/\(commit)/\(encodedPath)")
        let hubHost = url.host
        var metadata = FileMetadata()
        for _ in 0...Self.maxRedirects {
            let onHub = url.host == hubHost
            let connection = try HTTPConnection(
                url: url, trustedCAFile: hub.trustedCAFile, timeoutSeconds: hub.timeoutSeconds)
            // A CDN's signed URL carries its own credentials; the Hub token must not leak to it.
            let head = try connection.get(url, headers: onHub ? authorization() : [])
            guard (200..<400).contains(head.status) else {
                throw failure(head, body: try? connection.readBodyData(url: url, limitBytes: 1 << 20), url: url)
            }
            if onHub { metadata = Self.metadata(from: head, previous: metadata) }
            if (300..<400).contains(head.status) {
                guard let location = head["location"], let next = URL(string: location, relativeTo: url)?.absoluteURL
                else {
                    throw ModelHubError.badResponse(url: url.absoluteString, reason: "redirect without a Location")
                }
                if let etag = metadata.etag, blobIsPresent(etag, sizeBytes: metadata.expectedSizeBytes) {
                    log("\(file): blob \(etag) already in the cache")
                    return try link(file, commit: commit, blob: etag)
                }
                url = next
                continue
            }
            let blob = try receive(file, from: connection, url: url, metadata: metadata)
            return try link(file, commit: commit, blob: blob)
        }
        throw ModelHubError.badResponse(url: url.absoluteString, reason: "more than \(Self.maxRedirects) redirects")
    }

    private static func metadata(from head: HTTPResponseHead, previous: FileMetadata) -> FileMetadata {
        var metadata = previous
        if let linked = head["x-linked-etag"] {
            metadata.etag = normalizedETag(linked)
            metadata.isLFS = true
            metadata.expectedSizeBytes = head["x-linked-size"].flatMap { Int($0) }
        } else if let etag = head["etag"], !metadata.isLFS {
            metadata.etag = normalizedETag(etag)
        }
        return metadata
    }

    /// Streams the body into `blobs/ETAG.incomplete`, checks size and hash, renames it into place, returns ETAG.
    private func receive(_ file: String, from connection: HTTPConnection, url: URL, metadata: FileMetadata) throws
        -> String
    {
        try createDirectory(repo.blobsDirectory)
        let sha256 = Digest(.sha256)
        let partial = repo.blobsDirectory.appendingPathComponent(
            (metadata.etag ?? "download-\(UUID().uuidString)") + ".incomplete")
        var receivedBytes = 0
        do {
            guard FileManager.default.createFile(atPath: partial.path, contents: nil),
                let handle = FileHandle(forWritingAtPath: partial.path)
            else { throw ModelHubError.fileSystem(path: partial.path, reason: "cannot create file") }
            defer { try? handle.close() }
            if let size = metadata.expectedSizeBytes { log("\(file): downloading \(Self.describe(bytes: size))") }
            var reportedTenths = 0
            try connection.readBody(url: url) { piece in
                sha256.update(piece)
                receivedBytes += piece.count
                // Large files report every 10 %, so an operator watching a first start sees it advance.
                if let size = metadata.expectedSizeBytes, size >= 64 << 20, receivedBytes * 10 / size > reportedTenths {
                    reportedTenths = receivedBytes * 10 / size
                    log("\(file): \(reportedTenths * 10) % of \(Self.describe(bytes: size))")
                }
                do {
                    try handle.write(contentsOf: piece)
                } catch {
                    throw ModelHubError.fileSystem(path: partial.path, reason: "\(error)")
                }
            }
            let contentHash = sha256.finalizeHex()
            if let expected = metadata.expectedSizeBytes, expected != receivedBytes {
                throw ModelHubError.integrity(
                    file: file, detail: "\(receivedBytes) bytes received, the Hub announced \(expected)")
            }
            let blob = metadata.etag ?? contentHash
            if metadata.isLFS {
                guard contentHash == blob else {
                    throw ModelHubError.integrity(
                        file: file, detail: "sha256 \(contentHash), the Hub announced \(blob)")
                }
            } else if blob.count == 40, blob.allSatisfy(\.isHexDigit) {
                try handle.synchronize()
                let gitHash = try Self.gitBlobSHA1(of: partial)
                guard gitHash == blob else {
                    throw ModelHubError.integrity(
                        file: file, detail: "git blob sha1 \(gitHash), the Hub announced \(blob)")
                }
            }
            let destination = repo.blobsDirectory.appendingPathComponent(blob)
            guard rename(partial.path, destination.path) == 0 else {
                throw ModelHubError.fileSystem(path: destination.path, reason: String(cString: strerror(errno)))
            }
            return blob
        } catch {
            try? FileManager.default.removeItem(at: partial)
            throw error
        }
    }

    private func blobIsPresent(_ blob: String, sizeBytes: Int?) -> Bool {
        let path = repo.blobsDirectory.appendingPathComponent(blob).path
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return false }
        guard let sizeBytes else { return true }
        return (attributes[.size] as? NSNumber)?.intValue == sizeBytes
    }

    /// Points `snapshots/COMMIT/FILE` at `blobs/BLOB` with a relative symlink, replacing any old link atomically.
    private func link(_ file: String, commit: String, blob: String) throws {
        let linkURL = repo.snapshotDirectory(commit: commit).appendingPathComponent(file)
        try createDirectory(linkURL.deletingLastPathComponent())
        let depth = file.split(separator: "/").count - 1
        let target = String(repeating: "../", count: depth + 2) + "blobs/" + blob
        let temporary = linkURL.deletingLastPathComponent().appendingPathComponent(
            ".\(linkURL.lastPathComponent).\(getpid()).link")
        unlink(temporary.path)
        guard symlink(target, temporary.path) == 0, rename(temporary.path, linkURL.path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary.path)
            throw ModelHubError.fileSystem(path: linkURL.path, reason: reason)
        }
    }

    // MARK: - Helpers

    private func endpointURL(path: String) -> URL {
        var base = hub.endpoint.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        return URL(string: base + "/" + path)!
    }

    private func authorization() -> [(String, String)] {
        hub.token.map { [("Authorization", "Bearer \($0)")] } ?? []
    }

    private func failure(_ head: HTTPResponseHead, body: Data?, url: URL) -> ModelHubError {
        var message = head["x-error-message"]
        if message == nil, let body, let object = try? JSONValue.parse([UInt8](body)) {
            message = object["error"]?.stringValue
        }
        switch (head.status, head["x-error-code"]) {
        case (_, "GatedRepo"):
            return .gated(modelID: repo.repoID, status: head.status, serverMessage: message)
        case (_, "RepoNotFound"), (_, "RevisionNotFound"), (_, "EntryNotFound"), (404, _):
            return .notFound(modelID: repo.repoID, revision: revision, serverMessage: message)
        case (401, _), (403, _):
            return .gated(modelID: repo.repoID, status: head.status, serverMessage: message)
        default:
            return .httpStatus(url: url.absoluteString, status: head.status, serverMessage: message)
        }
    }

    private func acquireLock() throws -> Int32 {
        try createDirectory(repo.lockFile.deletingLastPathComponent())
        let fd = open(repo.lockFile.path, O_CREAT | O_RDWR, 0o644)
        guard fd >= 0 else {
            throw ModelHubError.fileSystem(path: repo.lockFile.path, reason: String(cString: strerror(errno)))
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            log("waiting for another process downloading \(repo.repoID) (lock \(repo.lockFile.path))")
            guard flock(fd, LOCK_EX) == 0 else {
                let reason = String(cString: strerror(errno))
                Glibc.close(fd)
                throw ModelHubError.fileSystem(path: repo.lockFile.path, reason: reason)
            }
        }
        return fd
    }

    private func createDirectory(_ url: URL) throws {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw ModelHubError.fileSystem(path: url.path, reason: "\(error)")
        }
    }

    private func writeAtomically(_ data: Data, to url: URL) throws {
        try createDirectory(url.deletingLastPathComponent())
        do {
            try data.write(to: url, options: .atomic)
        } catch {
            throw ModelHubError.fileSystem(path: url.path, reason: "\(error)")
        }
    }

    /// Strips the weak prefix and quotes: `W/"abc"` → `abc`.
    static func normalizedETag(_ etag: String) -> String {
        var value = etag.trimmingCharacters(in: .whitespaces)
        if value.hasPrefix("W/") { value.removeFirst(2) }
        return value.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
    }

    /// git's object id of a file: sha1 of `blob <size>\0` followed by the content.
    static func gitBlobSHA1(of url: URL) throws -> String {
        let content = try Data(contentsOf: url)
        let digest = Digest(.sha1)
        digest.update("blob \(content.count)\u{0}")
        content.withUnsafeBytes { digest.update($0) }
        return digest.finalizeHex()
    }

    static func encodeSegment(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    private static func describe(bytes: Int) -> String {
        bytes >= 1 << 20 ? "\(bytes >> 20) MiB" : "\(bytes) bytes"
    }
}
