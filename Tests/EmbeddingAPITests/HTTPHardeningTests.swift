import Foundation
import Synchronization
import TestSupport
import Testing

@testable import EmbeddingAPI

#if canImport(Glibc)
    import Glibc
#endif

/// Collects the router's request records.
private final class Records: Sendable {
    private let records = Mutex<[RequestLogRecord]>([])

    func append(_ record: RequestLogRecord) { records.withLock { $0.append(record) } }

    func first(withID requestID: String) -> RequestLogRecord? {
        records.withLock { $0.first { $0.requestID == requestID } }
    }
}

/// Sends `request` on a fresh connection and reads until the server closes it.
private func exchange(_ server: LoopbackServer, _ request: String) async throws -> RawResponse {
    let port = server.port
    return try await onThread {
        let client = try RawClient(port: port, timeoutSeconds: 900)
        try client.sendNow(Array(request.utf8))
        return try client.readResponseNow()
    }
}

@Suite("HTTP hardening at the API: trailers, request ids, clients that leave")
struct HTTPHardeningTests {
    @Test("fields sent only as chunked trailers neither satisfy --api-key nor set the Content-Type")
    func trailersAreNotHeaders() async throws {
        var configuration = APIConfiguration()
        configuration.apiKey = "k"
        let server = try LoopbackServer(router: try FakeServer(configuration: configuration).router)
        let body = #"{"inputs":"a"}"#
        let chunked = "\(String(body.utf8.count, radix: 16))\r\n\(body)\r\n0\r\n"
        let head = "POST /embed HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n"
        let keyInTrailer = try await exchange(
            server, head + "Content-Type: application/json\r\n\r\n" + chunked + "Authorization: Bearer k\r\n\r\n")
        #expect(keyInTrailer.status == 401)
        let typeInTrailer = try await exchange(
            server, head + "Authorization: Bearer k\r\n\r\n" + chunked + "Content-Type: application/json\r\n\r\n")
        #expect(typeInTrailer.status == 415)
        let bothInHead = try await exchange(
            server, head + "Authorization: Bearer k\r\nContent-Type: application/json\r\n\r\n" + chunked + "\r\n")
        #expect(bothInHead.status == 200)
        await server.server.shutdown(gracePeriodSeconds: 1)
    }

    @Test("an x-request-id over 128 bytes or outside visible ASCII is replaced by a generated one, in the log too")
    func requestIDIsCapped() async throws {
        let records = Records()
        let fake = try FakeServer()
        let server = try LoopbackServer(router: APIRouter(service: fake.router.service) { records.append($0) })
        let longest = String(repeating: "a", count: 128)
        #expect(
            try await server.send("GET", "/info", headers: [("x-request-id", longest)]).headers["x-request-id"]
                == longest)
        // The line is written once the response is sent, so it may trail the response by a moment.
        #expect(await waitUntil { records.first(withID: longest) != nil })
        for refused in [
            String(repeating: "b", count: 129), String(repeating: "c", count: 30_000), "has space", "tab\there", "é",
        ] {
            let response = try await server.send("GET", "/info", headers: [("x-request-id", refused)])
            let replaced = try #require(response.headers["x-request-id"])
            #expect(replaced != refused && UUID(uuidString: replaced) != nil, "\(refused.prefix(20))")
            #expect(await waitUntil { records.first(withID: replaced) != nil })
            #expect(records.first(withID: replaced)?.path == "/info")
            #expect(records.first(withID: refused) == nil)
        }
        await server.server.shutdown(gracePeriodSeconds: 1)
    }

    @Test("a client that disconnects mid-request is logged 499 and counted apart from failures")
    func disconnectIs499() async throws {
        let gate = DispatchSemaphore(value: 0)
        let records = Records()
        let fake = try FakeServer(backend: FakeModel.backend(embedGate: gate))
        let router = APIRouter(service: fake.router.service) { records.append($0) }
        let server = try LoopbackServer(router: router)
        let batcher = router.service.batcher
        let holder = Task { try await server.post("/embed", #"{"inputs":"a"}"#) }
        #expect(await waitUntil { batcher.freePermits < 512 })
        let port = server.port
        let leaver = try await onThread { try RawClient(port: port) }
        let body = #"{"inputs":"b"}"#
        try leaver.sendNow(
            Array(
                "POST /embed HTTP/1.1\r\nHost: x\r\nX-Request-Id: leaver\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
                    .utf8))
        #expect(await waitUntil { batcher.queuedCount >= 1 })
        shutdown(leaver.fd, Int32(SHUT_RDWR))
        #expect(await waitUntil { records.first(withID: "leaver") != nil })
        #expect(records.first(withID: "leaver")?.status == 499)
        gate.signal()
        #expect(try await holder.value.status == 200)
        let metrics = router.service.metrics.render()
        #expect(metrics.contains("te_request_cancelled{method=\"single\"} 1"), "\(metrics)")
        #expect(!metrics.contains("te_request_failure"), "\(metrics)")
        await server.server.shutdown(gracePeriodSeconds: 1)
    }
}
