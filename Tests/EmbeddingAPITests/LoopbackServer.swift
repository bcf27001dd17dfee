import EmbeddingModel
import Embeddings
import Foundation
import HTTPServer
import Kernels
import TestSupport
import Tokenizers

@testable import EmbeddingAPI

/// The real HTTP server with the API router, listening on an ephemeral loopback port.
final class LoopbackServer: Sendable {
    let server: HTTPServer
    let router: APIRouter
    let port: Int

    init(router: APIRouter, payloadLimitBytes: Int = 2_000_000) throws {
        var configuration = ServerConfiguration()
        configuration.hostname = "127.0.0.1"
        configuration.port = 0
        configuration.payloadLimitBytes = payloadLimitBytes
        configuration.corsAllowOrigins = ["*"]
        configuration.errorResponder = APIRouter.errorResponder
        server = HTTPServer(configuration: configuration) { request in await router.handle(request) }
        try server.start()
        self.router = router
        port = server.boundPort!
    }

    /// Sends one request on a fresh connection and reads its response.
    ///
    /// The blocking socket calls run on a thread of their own: on the task pool they would starve the handlers
    /// of the server under test, which run there.
    func send(
        _ method: String, _ path: String, body: String? = nil, headers: [(String, String)] = []
    ) async throws -> RawResponse {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        var fields = headers
        if let body {
            if !fields.contains(where: { $0.0.lowercased() == "content-type" }) {
                fields.append(("Content-Type", "application/json"))
            }
            fields.append(("Content-Length", String(body.utf8.count)))
        }
        for (name, value) in fields { head += "\(name): \(value)\r\n" }
        let request = Array((head + "\r\n").utf8) + Array((body ?? "").utf8)
        let port = port
        return try await onThread {
            // Generous: a 2,048-token request through the debug-built encoder, beside the other real-model suites on
            // a loaded 2-core machine, has taken over two minutes; the time-out only guards against a hung server.
            let client = try RawClient(port: port, timeoutSeconds: 900)
            try client.sendNow(request)
            return try client.readResponseNow()
        }
    }

    func post(_ path: String, _ json: String, headers: [(String, String)] = []) async throws -> RawResponse {
        try await send("POST", path, body: json, headers: headers)
    }
}

extension RawResponse {
    /// A TEI `/embed` answer's vectors (NaN where an element is not a number).
    var vectors: [[Float]] {
        ((json as? [[Any]]) ?? []).map { $0.map { Float(($0 as? NSNumber)?.doubleValue ?? .nan) } }
    }

    /// A TEI error body's message and type.
    var teiError: (message: String, type: String)? {
        guard let object = json as? [String: Any], let message = object["error"] as? String,
            let type = object["error_type"] as? String
        else { return nil }
        return (message, type)
    }
}

/// Loads a model directory into a router the way `embed-server serve` does.
func liveRouter(directory: String, modelID: String, configuration: APIConfiguration = APIConfiguration()) throws
    -> APIRouter
{
    let embedder = try Embedder(directory: URL(fileURLWithPath: directory))
    let info = embedder.info
    var labels: [String]?
    if case .classifier(let names) = info.kind { labels = names }
    let model = ModelDescription(
        modelID: modelID, maxInputLength: info.maxSequenceLength, embeddingDimensions: info.dimensions,
        hiddenSize: info.hiddenSize, vocabularySize: info.vocabularySize, prompts: info.prompts, labels: labels)
    let service = try EmbeddingService(model: model, configuration: configuration, backend: LiveBackend(embedder))
    return APIRouter(service: service)
}

func fixturePath(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)").path
}

/// Equal up to float rounding: concurrent tests share a server, so the same input may run in batches of other
/// shapes, whose GEMM tiles sum in another order.
func sameVectors(_ a: [[Float]], _ b: [[Float]]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0.count == $1.count && cosine($0, $1) >= 0.999999 }
}
