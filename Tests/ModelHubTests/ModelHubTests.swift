import Foundation
import Testing

@testable import ModelHub

@Suite("Resolving --model-id without the network")
struct ModelResolutionTests {
    @Test("an existing directory is used as is")
    func localDirectory() throws {
        let directory = try makeTemporaryDirectory("local-model")
        defer { try? FileManager.default.removeItem(at: directory) }
        let hub = ModelHub(environment: ["HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": "/nonexistent"])
        #expect(try hub.resolve(modelID: directory.path).path == directory.standardizedFileURL.path)
    }

    @Test("a path that does not exist is an error naming it, not a Hub lookup")
    func missingLocalDirectory() {
        let hub = ModelHub(environment: [:])
        #expect(throws: ModelHubError.localDirectoryNotFound(path: "/no/such/model")) {
            try hub.resolve(modelID: "/no/such/model")
        }
    }

    @Test("a regular file named as the model is an error saying it is not a directory")
    func regularFile() throws {
        let directory = try makeTemporaryDirectory("model-file")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("model.safetensors").path
        #expect(FileManager.default.createFile(atPath: file, contents: Data([0])))
        let hub = ModelHub(environment: ["HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": "/nonexistent"])
        do {
            _ = try hub.resolve(modelID: file)
            Issue.record("a regular file resolved as a model directory")
        } catch {
            #expect("\(error)".contains(file) && "\(error)".contains("not a directory"), "\(error)")
        }
    }

    @Test(
        "ids that are not ORG/NAME are rejected",
        arguments: ["a/b/c", "org/", "org/na me", "org:x/y", "org/..", "--x/y"])
    func invalidIDs(id: String) {
        let hub = ModelHub(environment: ["HF_HUB_OFFLINE": "1"])
        #expect(throws: ModelHubError.invalidModelID(id)) { try hub.resolve(modelID: id) }
    }

    @Test("cache folder: HUGGINGFACE_HUB_CACHE, then HF_HUB_CACHE, then HF_HOME/hub, then ~/.cache/huggingface/hub")
    func cacheDirectoryPrecedence() {
        let all = ["HUGGINGFACE_HUB_CACHE": "/a", "HF_HUB_CACHE": "/b", "HF_HOME": "/c", "HOME": "/home/u"]
        #expect(ModelHub(environment: all).cacheDirectory.path == "/a")
        #expect(ModelHub(environment: all.filter { $0.key != "HUGGINGFACE_HUB_CACHE" }).cacheDirectory.path == "/b")
        #expect(ModelHub(environment: ["HF_HOME": "/c", "HOME": "/home/u"]).cacheDirectory.path == "/c/hub")
        #expect(ModelHub(environment: ["HOME": "/home/u"]).cacheDirectory.path == "/home/u/.cache/huggingface/hub")
    }

    @Test("HF_HUB_OFFLINE accepts 1/true/yes/on; token from HF_TOKEN, else the login token file")
    func environmentFlags() throws {
        for value in ["1", "TRUE", "yes", "On"] { #expect(ModelHub(environment: ["HF_HUB_OFFLINE": value]).offline) }
        for value in ["0", "", "no"] { #expect(!ModelHub(environment: ["HF_HUB_OFFLINE": value]).offline) }
        let home = try makeTemporaryDirectory("hf-home")
        defer { try? FileManager.default.removeItem(at: home) }
        try "from-file\n".write(to: home.appendingPathComponent("token"), atomically: true, encoding: .utf8)
        #expect(ModelHub(environment: ["HF_HOME": home.path]).token == "from-file")
        #expect(ModelHub(environment: ["HF_HOME": home.path, "HF_TOKEN": "from-env"]).token == "from-env")
        #expect(ModelHub(environment: ["HF_HOME": "/nonexistent"]).token == nil)
    }

    @Test("a cached snapshot is found through refs/main with no network at all")
    func cacheHitWithoutNetwork() throws {
        let cache = try makeTemporaryDirectory("hub-cache")
        defer { try? FileManager.default.removeItem(at: cache) }
        let snapshot = try writeSnapshot(in: cache, commit: "abc123", files: FakeHub.files)
        var hub = ModelHub(environment: ["HF_HUB_CACHE": cache.path])
        hub.endpoint = URL(string: "https://127.0.0.1:1")! // nothing listens there: any request would fail
        #expect(try hub.resolve(modelID: FakeHub.repoID).path == snapshot.path)
        #expect(try hub.resolve(modelID: FakeHub.repoID, revision: "abc123").path == snapshot.path)
    }

    @Test("offline with an empty cache names the cache path and scripts/fetch-model.sh")
    func offlineError() throws {
        let cache = try makeTemporaryDirectory("hub-cache")
        defer { try? FileManager.default.removeItem(at: cache) }
        let hub = ModelHub(environment: ["HF_HUB_CACHE": cache.path, "HF_HUB_OFFLINE": "1"])
        let error = #expect(throws: ModelHubError.self) { try hub.resolve(modelID: "google/embeddinggemma-300m") }
        let message = error.map(String.init(describing:)) ?? ""
        #expect(message.contains(cache.path + "/models--google--embeddinggemma-300m"))
        #expect(message.contains("scripts/fetch-model.sh"))
        #expect(message.contains("HF_HUB_OFFLINE"))
    }

    @Test("a snapshot lacking a module's weights (listed in modules.json) is not a cache hit")
    func incompleteSnapshot() throws {
        let cache = try makeTemporaryDirectory("hub-cache")
        defer { try? FileManager.default.removeItem(at: cache) }
        _ = try writeSnapshot(
            in: cache, commit: "abc123", files: FakeHub.files.filter { $0.key != "2_Dense/model.safetensors" })
        let hub = ModelHub(environment: ["HF_HUB_CACHE": cache.path, "HF_HUB_OFFLINE": "1"])
        #expect(throws: ModelHubError.self) { try hub.resolve(modelID: FakeHub.repoID) }
    }

    @Test("a snapshot whose Normalize module has no folder (as on the Hub) resolves from the cache offline")
    func normalizeWithoutFolder() throws {
        let cache = try makeTemporaryDirectory("hub-cache")
        defer { try? FileManager.default.removeItem(at: cache) }
        var files = FakeHub.files
        files["modules.json"] = Data(
            #"[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}, {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}, {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}, {"idx": 3, "name": "3", "path": "4_Normalize", "type": "sentence_transformers.models.Normalize"}]"#
                .utf8)
        let snapshot = try writeSnapshot(in: cache, commit: "abc123", files: files)
        #expect(!FileManager.default.fileExists(atPath: snapshot.appendingPathComponent("4_Normalize").path))
        let hub = ModelHub(environment: ["HF_HUB_CACHE": cache.path, "HF_HUB_OFFLINE": "1"])
        #expect(try hub.resolve(modelID: FakeHub.repoID).path == snapshot.path)
    }

    @Test("a snapshot without modules.json or a Pooling config is not a cache hit")
    func loaderFilesRequired() throws {
        for lacking in ["modules.json", "1_Pooling/config.json"] {
            let cache = try makeTemporaryDirectory("hub-cache")
            defer { try? FileManager.default.removeItem(at: cache) }
            _ = try writeSnapshot(in: cache, commit: "abc123", files: FakeHub.files.filter { $0.key != lacking })
            let hub = ModelHub(environment: ["HF_HUB_CACHE": cache.path, "HF_HUB_OFFLINE": "1"])
            #expect(throws: ModelHubError.self, "without \(lacking)") { try hub.resolve(modelID: FakeHub.repoID) }
        }
    }

    @Test("only the files the server loads are selected for download")
    func fileSelection() {
        let listing = [
            "README.md", ".gitattributes", "config.json", "model.safetensors", "tokenizer.json", "tokenizer.model",
            "onnx/model.onnx", "1_Pooling/config.json", "2_Dense/model.safetensors", "2_Dense/config.json",
            "modules.json", "3_Dense/notes.txt",
        ]
        #expect(
            ModelFiles.wanted(from: listing) == [
                "1_Pooling/config.json", "2_Dense/config.json", "2_Dense/model.safetensors",
                "config.json", "model.safetensors", "modules.json", "tokenizer.json",
            ])
    }

    private func writeSnapshot(in cache: URL, commit: String, files: [String: Data]) throws -> URL {
        let repo = cache.appendingPathComponent("models--" + FakeHub.repoID.replacingOccurrences(of: "/", with: "--"))
        let snapshot = repo.appendingPathComponent("snapshots/\(commit)")
        for (name, data) in files {
            let url = snapshot.appendingPathComponent(name)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try data.write(to: url)
        }
        try FileManager.default.createDirectory(
            at: repo.appendingPathComponent("refs"), withIntermediateDirectories: true)
        try commit.write(to: repo.appendingPathComponent("refs/main"), atomically: true, encoding: .utf8)
        return snapshot
    }
}
