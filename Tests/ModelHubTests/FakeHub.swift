import Foundation

@testable import ModelHub

/// Runs `Fixtures/fake_hub.py` over TLS with a CA made for this test, serving a small sentence-transformers repo.
final class FakeHub {
    static let repoID = "test-org/tiny-embedder"
    static let commit = "0123456789abcdef0123456789abcdef01234567"
    static let token = "secret-token"

    /// The repository the fake serves: what a download must reproduce byte for byte.
    static let files: [String: Data] = [
        "config.json": Data(#"{"model_type": "gemma3_text"}"#.utf8),
        "modules.json": Data(
            #"[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}, {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}, {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}]"#
                .utf8),
        "tokenizer.json": Data(#"{"version": "1.0", "model": {"type": "BPE"}}"#.utf8),
        "model.safetensors": Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }),
        "1_Pooling/config.json": Data(#"{"pooling_mode_mean_tokens": true}"#.utf8),
        "2_Dense/config.json": Data(#"{"in_features": 768, "out_features": 3072}"#.utf8),
        "2_Dense/model.safetensors": Data((0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 13) }),
        "README.md": Data("not needed by the server".utf8),
    ]

    let directory: URL
    let caFile: String
    let port: Int
    private let process: Process
    private let input: Pipe

    var endpoint: URL { URL(string: "https://127.0.0.1:\(port)")! }
    var requestLog: [String] {
        ((try? String(contentsOf: directory.appendingPathComponent("requests.log"), encoding: .utf8)) ?? "")
            .split(separator: "\n").map(String.init)
    }

    init(mode: String = "normal") throws {
        directory = try makeTemporaryDirectory("fake-hub")
        let repoDirectory = directory.appendingPathComponent("repo")
        for (name, data) in Self.files {
            let url = repoDirectory.appendingPathComponent(name)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try data.write(to: url)
        }
        try Self.makeCertificates(in: directory)
        caFile = directory.appendingPathComponent("ca.pem").path

        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/fake_hub.py")
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", script.path, "--cert", directory.appendingPathComponent("server.pem").path,
            "--key", directory.appendingPathComponent("server.key").path,
            "--repo-dir", repoDirectory.path, "--repo-id", Self.repoID,
            "--commit", Self.commit, "--mode", mode,
        ]
        input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("PORT "), let port = Int(text.dropFirst(5).trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            process.terminate()
            throw FakeHubError.didNotStart(text)
        }
        self.port = port
    }

    deinit {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: directory)
    }

    /// A hub client configured for this server and a fresh, empty cache.
    func client(token: String? = nil, offline: Bool = false) -> ModelHub {
        var environment = [
            "HF_HUB_CACHE": directory.appendingPathComponent("cache-\(UUID().uuidString)").path,
            "HF_ENDPOINT": endpoint.absoluteString,
            "HF_HOME": directory.appendingPathComponent("hf-home").path,
        ]
        if let token { environment["HF_TOKEN"] = token }
        if offline { environment["HF_HUB_OFFLINE"] = "1" }
        var hub = ModelHub(environment: environment)
        hub.trustedCAFile = caFile
        return hub
    }

    private static func makeCertificates(in directory: URL) throws {
        let ext = directory.appendingPathComponent("san.cnf")
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n".write(
            to: ext, atomically: true, encoding: .utf8)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try run(
            ["req", "-x509"] + ec + [
                "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=fake-hub-test-ca",
            ], in: directory)
        try run(
            ["req"] + ec + ["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"], in: directory)
        try run(
            [
                "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", "server.pem", "-days", "1", "-extfile", "san.cnf",
            ], in: directory)
    }

    private static func run(_ arguments: [String], in directory: URL) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        process.currentDirectoryURL = directory
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw FakeHubError.openssl(arguments.joined(separator: " ")) }
    }
}

enum FakeHubError: Error {
    case didNotStart(String)
    case openssl(String)
}

func makeTemporaryDirectory(_ prefix: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
        "\(prefix)-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
