import Foundation
import Testing

@testable import ModelHub

@Suite("Downloading from a local HTTPS imitation of the Hugging Face Hub")
struct HubDownloadTests {
    @Test("downloads the needed files into blobs/ with snapshot symlinks and refs/main, then serves them offline")
    func downloadIntoCacheLayout() throws {
        let fake = try FakeHub()
        let hub = fake.client()
        let snapshot = try hub.resolve(modelID: FakeHub.repoID)
        let repo = hub.cacheDirectory.appendingPathComponent("models--test-org--tiny-embedder")
        #expect(snapshot.path == repo.appendingPathComponent("snapshots/\(FakeHub.commit)").path)
        #expect(try String(contentsOf: repo.appendingPathComponent("refs/main"), encoding: .utf8) == FakeHub.commit)
        for (name, data) in FakeHub.files where name != "README.md" {
            #expect(try Data(contentsOf: snapshot.appendingPathComponent(name)) == data, "\(name)")
        }
        #expect(!FileManager.default.fileExists(atPath: snapshot.appendingPathComponent("README.md").path))
        let weightsLink = try FileManager.default.destinationOfSymbolicLink(
            atPath: snapshot.appendingPathComponent("2_Dense/model.safetensors").path)
        #expect(weightsLink.hasPrefix("../../../blobs/") && weightsLink.count == "../../../blobs/".count + 64)
        let configLink = try FileManager.default.destinationOfSymbolicLink(
            atPath: snapshot.appendingPathComponent("config.json").path)
        #expect(configLink.hasPrefix("../../blobs/") && configLink.count == "../../blobs/".count + 40)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: repo.appendingPathComponent("blobs").path)
            .filter { $0.hasSuffix(".incomplete") }
        #expect(leftovers.isEmpty)

        var offline = hub
        offline.offline = true
        #expect(try offline.resolve(modelID: FakeHub.repoID).path == snapshot.path)
    }

    @Test("a gated model without HF_TOKEN fails with a message saying to set it and accept the terms")
    func gatedWithoutToken() throws {
        let fake = try FakeHub(mode: "gated")
        let error = #expect(throws: ModelHubError.self) { try fake.client().resolve(modelID: FakeHub.repoID) }
        guard case .gated(_, 401, _)? = error else {
            Issue.record("expected a gated error, got \(String(describing: error))"); return
        }
        let message = String(describing: error!)
        #expect(message.contains("HF_TOKEN") && message.contains("terms"))
    }

    @Test("a wrong token is a 403 gated error")
    func gatedWithWrongToken() throws {
        let fake = try FakeHub(mode: "gated")
        let error = #expect(throws: ModelHubError.self) {
            try fake.client(token: "wrong").resolve(modelID: FakeHub.repoID)
        }
        guard case .gated(_, 403, _)? = error else {
            Issue.record("expected a 403 gated error, got \(String(describing: error))"); return
        }
    }

    @Test("with HF_TOKEN a gated model downloads, and the token never reaches the CDN host")
    func gatedWithToken() throws {
        let fake = try FakeHub(mode: "gated")
        let snapshot = try fake.client(token: FakeHub.token).resolve(modelID: FakeHub.repoID)
        #expect(
            try Data(contentsOf: snapshot.appendingPathComponent("model.safetensors"))
                == FakeHub.files["model.safetensors"])
        let cdnRequests = fake.requestLog.filter { $0.hasPrefix("/cdn/") }
        #expect(cdnRequests.count == 2)
        #expect(cdnRequests.allSatisfy { $0.hasSuffix("auth=False") })
    }

    @Test("an unknown revision is a not-found error")
    func unknownRevision() throws {
        let fake = try FakeHub()
        let error = #expect(throws: ModelHubError.self) {
            try fake.client().resolve(modelID: FakeHub.repoID, revision: "v9")
        }
        guard case .notFound(_, "v9", _)? = error else {
            Issue.record("expected not found, got \(String(describing: error))"); return
        }
    }

    @Test("a download cut short leaves no partial blob, no snapshot file and no ref")
    func truncatedDownloadIsCleanedUp() throws {
        let fake = try FakeHub(mode: "truncate")
        let hub = fake.client()
        let error = #expect(throws: ModelHubError.self) { try hub.resolve(modelID: FakeHub.repoID) }
        guard case .network(_, let reason)? = error else {
            Issue.record("expected a network error, got \(String(describing: error))"); return
        }
        #expect(reason.contains("bytes missing"))
        try expectNoTraceOfWeights(hub)
    }

    @Test("content whose sha256 differs from X-Linked-Etag is rejected and removed")
    func corruptDownloadIsRejected() throws {
        let fake = try FakeHub(mode: "corrupt")
        let hub = fake.client()
        let error = #expect(throws: ModelHubError.self) { try hub.resolve(modelID: FakeHub.repoID) }
        guard case .integrity(let file, _)? = error else {
            Issue.record("expected an integrity error, got \(String(describing: error))"); return
        }
        #expect(file.hasSuffix("model.safetensors"))
        try expectNoTraceOfWeights(hub)
    }

    @Test("a server certificate from an untrusted CA is refused")
    func untrustedCertificate() throws {
        let fake = try FakeHub()
        var hub = fake.client()
        hub.trustedCAFile = nil // the system store does not know the test CA
        let error = #expect(throws: ModelHubError.self) { try hub.resolve(modelID: FakeHub.repoID) }
        #expect(
            String(describing: error.map(String.init(describing:)) ?? "").contains("certificate verification failed"))
    }

    private func expectNoTraceOfWeights(_ hub: ModelHub) throws {
        let repo = hub.cacheDirectory.appendingPathComponent("models--test-org--tiny-embedder")
        let blobs =
            (try? FileManager.default.contentsOfDirectory(atPath: repo.appendingPathComponent("blobs").path)) ?? []
        #expect(blobs.allSatisfy { !$0.hasSuffix(".incomplete") }, "\(blobs)")
        #expect(blobs.allSatisfy { $0.count == 40 }, "only small verified (git sha1) blobs may remain: \(blobs)")
        #expect(!FileManager.default.fileExists(atPath: repo.appendingPathComponent("refs/main").path))
        #expect(
            !FileManager.default.fileExists(
                atPath: repo.appendingPathComponent("snapshots/\(FakeHub.commit)/model.safetensors").path))
    }
}
