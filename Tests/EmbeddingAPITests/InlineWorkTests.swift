import Foundation
import HTTPServer
import Synchronization
import TestSupport
import Testing

@testable import EmbeddingAPI

/// Records, per tokenization, whether it ran inside the request's task: a task-local value set around the request
/// is visible there, and not on a tokenizer worker's thread.
private final class TokenizationLog: Sendable {
    @TaskLocal static var insideRequest = false
    private let inline = Mutex<[Bool]>([])

    func note() { inline.withLock { $0.append(Self.insideRequest) } }

    func takeAll() -> [Bool] {
        inline.withLock { inline in
            defer { inline = [] }; return inline
        }
    }
}

@Suite("where a request's own work runs")
struct InlineWorkTests {
    private static func recordingBackend(_ log: TokenizationLog) -> FakeBackend {
        var backend = FakeModel.backend()
        backend.onTokenize = { log.note() }
        return backend
    }

    @Test("a short input is tokenized by the caller, inputs past 1 KB in all by a tokenizer worker")
    func shortInputsSkipTheWorker() async throws {
        let log = TokenizationLog()
        let server = try FakeServer(backend: Self.recordingBackend(log))
        let short = await TokenizationLog.$insideRequest.withValue(true) {
            await server.post("/embed", #"{"inputs":["hello","world"]}"#)
        }
        #expect(short.status == 200)
        #expect(log.takeAll() == [true, true])
        let long = String(repeating: "a", count: EmbeddingService.inlineTokenizationBytes / 2 + 1)
        let response = await TokenizationLog.$insideRequest.withValue(true) {
            await server.post("/embed", #"{"inputs":["\#(long)","\#(long)"]}"#)
        }
        #expect(response.status == 200)
        #expect(log.takeAll() == [false, false])
    }

    @Test("probes and embedding requests with small bodies stay on the caller; other routes and large bodies move")
    func inlineRoutes() {
        func request(_ method: String, _ path: String, bodyBytes: Int = 0) -> HTTPRequest {
            HTTPRequest(method: method, path: path, body: [UInt8](repeating: 0x20, count: bodyBytes))
        }
        #expect(APIRouter.answersInline(request("GET", "/health")))
        #expect(APIRouter.answersInline(request("POST", "/embed", bodyBytes: 100)))
        #expect(APIRouter.answersInline(request("POST", "/v1/embeddings", bodyBytes: APIRouter.inlineBodyBytes)))
        #expect(!APIRouter.answersInline(request("POST", "/embed", bodyBytes: APIRouter.inlineBodyBytes + 1)))
        #expect(!APIRouter.answersInline(request("POST", "/tokenize", bodyBytes: 10)))
        #expect(!APIRouter.answersInline(request("POST", "/embed_all", bodyBytes: 10)))
        #expect(!APIRouter.answersInline(request("GET", "/metrics")))
    }

    @Test("with handlers on the event loop, /health answers while an embed request waits for the encoder")
    func healthWhileEncoding() async throws {
        let gate = DispatchSemaphore(value: 0)
        let fake = try FakeServer(backend: FakeModel.backend(embedGate: gate))
        let server = try LoopbackServer(router: fake.router)
        let batcher = fake.router.service.batcher
        let waiting = Task { try await server.post("/embed", #"{"inputs":"a"}"#) }
        #expect(await waitUntil { batcher.freePermits < 512 })
        let health = try await server.send("GET", "/health")
        #expect(health.status == 200)
        let many = Array(repeating: #""b""#, count: 32).joined(separator: ",")
        let queued = Task { try await server.post("/embed", #"{"inputs":[\#(many)]}"#) }
        #expect(await waitUntil { batcher.queuedCount >= 32 })
        gate.signal()
        gate.signal()
        #expect(try await waiting.value.status == 200)
        let answer = try await queued.value
        #expect(answer.status == 200)
        #expect((answer.json as? [[Any]])?.count == 32)
        await server.server.shutdown(gracePeriodSeconds: 1)
    }
}
