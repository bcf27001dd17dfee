import Foundation
import Synchronization
import TestSupport
import Testing

@testable import EmbeddingAPI

/// Collects what the router reports, as the server's logger would receive it.
private final class RecordSink: Sendable {
    private let records = Mutex<[RequestLogRecord]>([])

    func append(_ record: RequestLogRecord) { records.withLock { $0.append(record) } }

    func record(withID requestID: String) -> RequestLogRecord? {
        records.withLock { $0.first { $0.requestID == requestID } }
    }
}

@Suite("per-request log records")
struct RequestLogTests {
    @Test("each request reports method, path, status, duration and the client's x-request-id")
    func recordsCarryTheClientRequestID() async throws {
        let sink = RecordSink()
        let live = try liveRouter(directory: SharedFixtures.tinyModel, modelID: "tiny")
        let router = APIRouter(service: live.service) { sink.append($0) }
        let server = try LoopbackServer(router: router)
        let embedded = try await server.post(
            "/embed", #"{"inputs":[2,10,11]}"#, headers: [("x-request-id", "client-abc-1")])
        let missing = try await server.send("GET", "/nowhere", headers: [("X-Request-Id", "client-abc-2")])
        let rejected = try await server.post("/embed", #"{"inputs":[]}"#, headers: [("x-request-id", "client-abc-3")])
        await server.server.shutdown(gracePeriodSeconds: 1)

        let embed = try #require(sink.record(withID: "client-abc-1"))
        #expect(embedded.headers["x-request-id"] == "client-abc-1")
        #expect(embed.method == "POST" && embed.path == "/embed" && embed.status == 200)
        #expect(embed.tokens == embedded.headers["x-compute-tokens"].flatMap { Int($0) })
        #expect(embed.tokens ?? 0 > 0)
        #expect(embed.durationMilliseconds > 0)
        let notFound = try #require(sink.record(withID: "client-abc-2"))
        #expect(missing.status == 404 && notFound.status == 404 && notFound.method == "GET" && notFound.tokens == nil)
        let invalid = try #require(sink.record(withID: "client-abc-3"))
        #expect(invalid.status == rejected.status && invalid.status >= 400 && invalid.tokens == nil)
    }
}
