import Dispatch
import Foundation
import HTTPServer
import TestSupport
import Testing

@testable import EmbeddingAPI

/// What bounds the largest answers: /tokenize takes the embedding routes' request limits, /embed_all a token budget.
@Suite("Response limits")
struct ResponseLimitTests {
    @Test("/tokenize refuses more inputs than --max-client-batch-size, as the embedding routes do")
    func tokenizeBatchSize() async throws {
        let server = try FakeServer()
        let inputs = (0..<33).map { "\"t\($0)\"" }.joined(separator: ",")
        let response = await server.post("/tokenize", #"{"inputs":[\#(inputs)]}"#)
        #expect(response.status == 422)
        #expect(response.teiError?.message == "batch size 33 > maximum allowed batch size 32")
    }

    @Test("/tokenize cuts inputs to the max input length, or refuses them with truncate: false")
    func tokenizeTokenLimit() async throws {
        let server = try FakeServer(maxInputLength: 16)
        let text = String(repeating: "a", count: 19) + "z" // 22 tokens with <bos> and <eos>
        let cut = await server.post("/tokenize", #"{"inputs":"\#(text)"}"#)
        #expect(cut.status == 200)
        let tokens = try #require((cut.json as? [[[String: Any]]])?.first)
        #expect(tokens.count == 16)
        #expect(tokens.last?["text"] as? String == "<eos>")
        let left = await server.post("/tokenize", #"{"inputs":"\#(text)","truncation_direction":"left"}"#)
        let leftTokens = try #require((left.json as? [[[String: Any]]])?.first)
        #expect(leftTokens[leftTokens.count - 2]["text"] as? String == "z")
        let refused = await server.post("/tokenize", #"{"inputs":"\#(text)","truncate":false}"#)
        #expect(refused.status == 422)
        #expect(
            refused.teiError?.message == "Input validation error: `inputs` must have less than 16 tokens. Given: 22")
    }

    @Test("/embed_all answers at most --max-batch-tokens tokens per request, and that many server-wide at once")
    func embedAllTokenBudget() async throws {
        var configuration = APIConfiguration()
        configuration.maxBatchTokens = 20
        let gate = DispatchSemaphore(value: 0)
        let server = try FakeServer(configuration: configuration, backend: FakeModel.backend(embedGate: gate))
        let tooLong = await server.post("/embed_all", #"{"inputs":["aaaaaaaaaa","bbbbbbbbbb"]}"#) // 2 × 12 tokens
        #expect(tooLong.status == 422)
        #expect(tooLong.teiError?.message.contains("at most 20 tokens per request") == true)
        let holder = Task { await server.post("/embed_all", #"{"inputs":["aaaaaaaaaaaaa"]}"#) } // 15 tokens
        #expect(await waitUntil { server.router.service.tokenLevelBudget.freeTokens < 20 })
        let refusing = Task { await server.post("/embed_all", #"{"inputs":["cccccccc"]}"#) } // 10 tokens: 5 are free
        // Refused at once; without the budget it would queue behind the held batch, which the gate then lets go.
        try await Task.sleep(nanoseconds: 500_000_000)
        for _ in 0..<2 { gate.signal() }
        #expect(await refusing.value.status == 429)
        #expect(await holder.value.status == 200)
        // The holder's tokens come back when the last copy of its batch goes away, which may trail its answer.
        #expect(await waitUntil { server.router.service.tokenLevelBudget.freeTokens == 20 })
        gate.signal()
        let accepted = await server.post("/embed_all", #"{"inputs":["cccccccc"]}"#)
        #expect(accepted.status == 200)
    }
}
