import Dispatch
import Foundation
import HTTPServer
import TestSupport
import Testing

@testable import EmbeddingAPI

/// One case of the tiny model's reference outputs (sentence-transformers on the tiny checkpoint).
private struct TinyCase: Decodable {
    let ids: [Int32]
    let raw: [Float]
    let normalized: [Float]
    let hidden: [Float] // [tokens × 48]
}

private struct TinyExpected: Decodable {
    let cases: [TinyCase]
}

private struct TokenizerCase: Decodable {
    let text: String
    let ids: [Int32]
    let tokens: [String]
    let offsets: [[Int]]
}

/// The real server on loopback with the tiny Gemma3 checkpoint and its tiny BPE tokenizer: fast end-to-end tests.
private let tinyServer = Result {
    try LoopbackServer(
        router: liveRouter(directory: SharedFixtures.tinyModel, modelID: "tiny"), payloadLimitBytes: 4000)
}

private func expectedCases() throws -> [TinyCase] {
    let url = URL(fileURLWithPath: fixturePath("../../EmbeddingModelTests/Fixtures/tiny-expected.json"))
    return try JSONDecoder().decode(TinyExpected.self, from: Data(contentsOf: url)).cases
}

@Suite("HTTP server with the tiny model")
struct TinyModelServerTests {
    @Test("token-id inputs over HTTP give the reference pooled vectors, normalized and raw")
    func tokenIDParity() async throws {
        let server = try tinyServer.get()
        for reference in try expectedCases() {
            let ids = reference.ids.map(String.init).joined(separator: ",")
            let normalized = try #require(try await server.post("/embed", #"{"inputs":[\#(ids)]}"#).vectors.first)
            #expect(cosine(normalized, reference.normalized) > 0.99999)
            let raw = try #require(
                try await server.post("/embed", #"{"inputs":[\#(ids)],"normalize":false}"#).vectors.first)
            #expect(zip(raw, reference.raw).allSatisfy { abs($0 - $1) <= 1e-3 * max(1, abs($1)) })
        }
    }

    @Test("a batch answers each input as if it were alone, in order")
    func batchEqualsSingles() async throws {
        let server = try tinyServer.get()
        let cases = try expectedCases()
        let batchBody = cases.map { "[" + $0.ids.map(String.init).joined(separator: ",") + "]" }.joined(separator: ",")
        let batch = try await server.post("/embed", #"{"inputs":[\#(batchBody)]}"#).vectors
        #expect(batch.count == cases.count)
        for (row, reference) in zip(batch, cases) {
            #expect(cosine(row, reference.normalized) > 0.99999)
        }
    }

    @Test("/embed_all returns the reference token states")
    func tokenStates() async throws {
        let server = try tinyServer.get()
        let reference = try expectedCases()[2]
        let ids = reference.ids.map(String.init).joined(separator: ",")
        let states = try #require(try await server.post("/embed_all", #"{"inputs":[\#(ids)]}"#).json as? [[[Double]]])
        #expect(states[0].count * 48 == reference.hidden.count)
        for (index, row) in states[0].enumerated() {
            #expect(cosine(row.map(Float.init), Array(reference.hidden[index * 48..<(index + 1) * 48])) > 0.9999)
        }
    }

    @Test("text inputs are tokenized as HF tokenizers does, with the prompt in front, and /tokenize shows byte offsets")
    func textRoutes() async throws {
        let server = try tinyServer.get()
        let lines = try String(contentsOfFile: SharedFixtures.tinyTokenizerCases, encoding: .utf8)
            .split(separator: "\n")
        let cases = try lines.map { try JSONDecoder().decode(TokenizerCase.self, from: Data($0.utf8)) }
        for reference in cases {
            let tokens = try #require(
                try await server.post("/tokenize", #"{"inputs":\#(try jsonText(reference.text))}"#).json
                    as? [[[String: Any]]])
            #expect(tokens[0].map { $0["id"] as? Int } == reference.ids.map { Int($0) })
            let utf8 = Array(reference.text.utf8)
            for (token, offsets) in zip(tokens[0], reference.offsets) where token["special"] as? Bool == false {
                let scalars = Array(reference.text.unicodeScalars)
                let start = String(String.UnicodeScalarView(scalars[..<offsets[0]])).utf8.count
                let stop = String(String.UnicodeScalarView(scalars[..<offsets[1]])).utf8.count
                #expect(token["start"] as? Int == start)
                #expect(token["stop"] as? Int == stop)
                #expect(token["text"] as? String == String(decoding: utf8[start..<stop], as: UTF8.self))
            }
            let ids = reference.ids.map(String.init).joined(separator: ",")
            let fromText = try await server.post("/embed", #"{"inputs":\#(try jsonText(reference.text))}"#).vectors
            let fromIDs = try await server.post("/embed", #"{"inputs":[\#(ids)]}"#).vectors
            #expect(sameVectors(fromText, fromIDs))
        }
        let prompted = try await server.post("/embed", #"{"inputs":"the end","prompt_name":"query"}"#)
        let manual = try await server.post("/embed", #"{"inputs":"task: search result | query: the end"}"#)
        #expect(sameVectors(prompted.vectors, manual.vectors))
        #expect(prompted.headers["x-compute-tokens"] == "31")
    }

    @Test("TEI does not apply the model's own default_prompt_name: no prompt unless asked")
    func noImplicitDefaultPrompt() async throws {
        let server = try tinyServer.get()
        let plain = try await server.post("/embed", #"{"inputs":"the end"}"#)
        #expect(plain.headers["x-compute-tokens"] == "8")
    }

    @Test("/decode inverts /tokenize through the real tokenizer")
    func decode() async throws {
        let server = try tinyServer.get()
        #expect(
            try await server.post("/decode", #"{"ids":[2,24,77,89,9,18,81,86,1]}"#).json as? [String] == [
                "the queen sat"
            ])
    }

    @Test("a body above --payload-limit is answered 413 in TEI's error shape")
    func payloadLimit() async throws {
        let server = try tinyServer.get()
        let response = try await server.post("/embed", #"{"inputs":"\#(String(repeating: "a", count: 5000))"}"#)
        #expect(response.status == 413)
        #expect(response.teiError != nil)
    }

    @Test("responses carry CORS, x-request-id and the compute headers over the wire")
    func headers() async throws {
        let server = try tinyServer.get()
        let response = try await server.post(
            "/embed", #"{"inputs":"the end"}"#, headers: [("Origin", "https://app.example"), ("x-request-id", "r-42")])
        #expect(response.status == 200)
        #expect(response.headers["access-control-allow-origin"] != nil)
        #expect(response.headers["x-request-id"] == "r-42")
        #expect(response.headers["x-compute-type"] == "cpu")
        #expect(response.headers["x-compute-characters"] == "7")
    }

    @Test("/vertex answers each instance as /embed does, over the wire")
    func vertex() async throws {
        let server = try tinyServer.get()
        let single = try await server.post("/embed", #"{"inputs":"the queen sat"}"#).vectors
        let pair = try await server.post("/embed", #"{"inputs":["the end","sat"],"normalize":false}"#).vectors
        let response = try await server.post(
            "/vertex", #"{"instances":[{"inputs":"the queen sat"},{"inputs":["the end","sat"],"normalize":false}]}"#)
        #expect(response.status == 200)
        let predictions = try #require((response.json as? [String: Any])?["predictions"] as? [[[Double]]])
        #expect(predictions.count == 2)
        #expect(sameVectors(predictions[0].map { $0.map(Float.init) }, single))
        #expect(sameVectors(predictions[1].map { $0.map(Float.init) }, pair))
    }

    @Test("/info and /openapi.json are served over the wire")
    func infoAndDocument() async throws {
        let server = try tinyServer.get()
        let info = try #require(try await server.send("GET", "/info").json as? [String: Any])
        #expect(info["model_id"] as? String == "tiny")
        #expect(info["max_input_length"] as? Int == 64)
        let document = try await server.send("GET", "/openapi.json")
        #expect(document.status == 200)
        #expect((document.json as? [String: Any])?["openapi"] != nil)
    }
}

@Suite("HTTP server: client disconnects")
struct DisconnectTests {
    @Test("a client that disconnects while its inputs are queued has them dropped and its permits freed")
    func disconnectDropsQueuedWork() async throws {
        let gate = DispatchSemaphore(value: 0)
        let fake = try FakeServer(backend: FakeModel.backend(embedGate: gate))
        let server = try LoopbackServer(router: fake.router)
        let batcher = fake.router.service.batcher
        let holder = Task { try await server.post("/embed", #"{"inputs":"a"}"#) }
        #expect(await waitUntil { batcher.freePermits < 512 })
        let port = server.port
        let leaver = try await onThread { try RawClient(port: port) }
        let body = #"{"inputs":["b","c","d"]}"#
        try leaver.sendNow(
            Array(
                "POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
                    .utf8))
        #expect(await waitUntil { batcher.queuedCount == 3 })
        shutdown(leaver.fd, Int32(SHUT_RDWR))
        #expect(await waitUntil { batcher.queuedCount == 0 })
        #expect(batcher.freePermits == 511)
        gate.signal()
        #expect(try await holder.value.status == 200)
        await server.server.shutdown(gracePeriodSeconds: 1)
    }
}
