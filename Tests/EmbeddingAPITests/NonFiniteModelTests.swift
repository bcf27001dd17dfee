import Foundation
import HTTPServer
import Safetensors
import TestSupport
import Testing

@testable import EmbeddingAPI

/// A copy of the tiny model whose final norm weights are NaN, so every output vector is NaN.
private func nanModel() throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("nan-model-\(UUID().uuidString)").path
    try FileManager.default.copyItem(atPath: SharedFixtures.tinyModel, toPath: directory)
    let path = directory + "/model.safetensors"
    let info = try SafetensorsFile(path: path).info("norm.weight")
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    try handle.seek(toOffset: UInt64(info.fileOffset))
    handle.write(Data([Float](repeating: .nan, count: info.elementCount).withUnsafeBytes { Array($0) }))
    return directory
}

@Suite("a model whose output is not finite")
struct NonFiniteModelTests {
    @Test("warm-up refuses it, so the server does not start")
    func warmUpRefuses() throws {
        let directory = try nanModel()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let router = try liveRouter(directory: directory, modelID: "nan")
        do {
            _ = try router.service.warmUp()
            Issue.record("warm-up accepted NaN vectors")
        } catch {
            #expect("\(error)".contains("not finite"), "\(error)")
        }
    }

    @Test("a request gets TEI's backend error, counted as TEI counts an inference failure, instead of NaN vectors")
    func requestFails() async throws {
        let directory = try nanModel()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try LoopbackServer(router: liveRouter(directory: directory, modelID: "nan"))
        let response = try await server.post("/embed", #"{"inputs":[[2,5,1]]}"#)
        #expect(response.status == 424)
        #expect(response.teiError?.type == "Backend")
        #expect(response.teiError?.message.contains("not finite") == true, "\(response.text)")
        let metrics = try await server.send("GET", "/metrics").text
        #expect(metrics.contains(#"te_request_failure{err="inference"} 1"#), "\(metrics)")
        await server.server.shutdown(gracePeriodSeconds: 0)
        await server.router.service.shutdown()
    }
}
