import Foundation
import HTTPServer
import TestSupport
import Testing

@testable import EmbeddingAPI

@Suite("POST /embed")
struct EmbedRouteTests {
    let server: FakeServer

    init() throws {
        server = try FakeServer()
    }

    @Test("a single string gives one unit vector of the model's width, with TEI's compute headers")
    func singleString() async throws {
        let response = await server.post("/embed", #"{"inputs":"hello"}"#)
        #expect(response.status == 200)
        let vectors = response.vectors
        #expect(vectors.count == 1)
        #expect(vectors[0].count == FakeModel.dimensions)
        #expect(abs(norm(vectors[0]) - 1) < 1e-6)
        let expected = FakeModel.finalize(FakeModel.embed([2, 104, 101, 108, 108, 111, 1]), nil, true)
        #expect(vectors[0] == expected)
        #expect(response.headers["x-compute-type"] == "cpu")
        #expect(response.headers["x-compute-characters"] == "5")
        #expect(response.headers["x-compute-tokens"] == "7")
        for name in ["x-compute-time", "x-total-time", "x-tokenization-time", "x-queue-time", "x-inference-time"] {
            #expect(response.headers[name].flatMap { Int($0) } != nil, "\(name) is an integer of milliseconds")
        }
        #expect(response.headers["content-type"] == "application/json")
    }

    @Test("a batch keeps input order and each row equals the input embedded alone")
    func batchOrder() async throws {
        let batch = await server.post("/embed", #"{"inputs":["a","bb","ccc"]}"#).vectors
        #expect(batch.count == 3)
        for (index, text) in ["a", "bb", "ccc"].enumerated() {
            let single = await server.post("/embed", #"{"inputs":"\#(text)"}"#).vectors
            #expect(batch[index] == single[0])
        }
    }

    @Test("an integer list is one pre-tokenized input, used as is; a list of lists is a batch of them")
    func tokenIDInputs() async throws {
        let single = await server.post("/embed", #"{"inputs":[2,104,105,1],"normalize":false}"#)
        #expect(single.vectors == [FakeModel.embed([2, 104, 105, 1])])
        #expect(single.headers["x-compute-characters"] == "4")
        let batch = await server.post("/embed", #"{"inputs":[[2,104,1],"hi"],"normalize":false}"#)
        #expect(batch.vectors == [FakeModel.embed([2, 104, 1]), FakeModel.embed([2, 104, 105, 1])])
    }

    @Test("normalize false returns the raw pooled vector; dimensions cuts it before normalizing")
    func normalizeAndDimensions() async throws {
        let raw = FakeModel.embed([2, 120, 1])
        #expect(await server.post("/embed", #"{"inputs":"x","normalize":false}"#).vectors == [raw])
        let cut = await server.post("/embed", #"{"inputs":"x","dimensions":3}"#).vectors
        #expect(cut == [FakeModel.finalize(raw, 3, true)])
        #expect(abs(norm(cut[0]) - 1) < 1e-6)
        let rawCut = await server.post("/embed", #"{"inputs":"x","dimensions":3,"normalize":false}"#).vectors
        #expect(rawCut == [Array(raw.prefix(3))])
        let full = await server.post("/embed", #"{"inputs":"x","dimensions":8}"#)
        #expect(full.status == 200)
    }

    @Test("dimensions 0 and dimensions above the model's are validation errors with TEI's messages")
    func dimensionErrors() async throws {
        let zero = await server.post("/embed", #"{"inputs":"x","dimensions":0}"#)
        #expect(zero.status == 422)
        #expect(zero.teiError?.message == "Input validation error: `dimensions` should be positive")
        #expect(zero.teiError?.type == "Validation")
        let large = await server.post("/embed", #"{"inputs":"x","dimensions":9}"#)
        #expect(large.status == 422)
        #expect(
            large.teiError?.message
                == "Input validation error: `dimensions` should be smaller than the maximum embedding dimension.")
        let negative = await server.post("/embed", #"{"inputs":"x","dimensions":-1}"#)
        #expect(negative.status == 422)
        #expect(
            negative.teiError?.message.hasPrefix("Failed to deserialize the JSON body into the target type") == true)
    }

    @Test("prompt_name prepends the named prompt before tokenization; an unknown name lists the prompts")
    func promptName() async throws {
        let prompted = await server.post("/embed", #"{"inputs":"x","prompt_name":"query","normalize":false}"#)
        #expect(prompted.vectors == [FakeModel.embed([2, 113, 58, 32, 120, 1])])
        #expect(prompted.headers["x-compute-tokens"] == "6")
        #expect(prompted.headers["x-compute-characters"] == "1", "characters are counted before the prompt")
        let unknown = await server.post("/embed", #"{"inputs":"x","prompt_name":"nope"}"#)
        #expect(unknown.status == 422)
        #expect(
            unknown.teiError?.message
                == "Input validation error: `default-prompt-name` is set to `nope` but it was not found in the Sentence Transformers prompts. Available prompts: [\"document\", \"query\"]"
        )
        let emptyWins = await server.post("/embed", #"{"inputs":"","prompt_name":"nope"}"#)
        #expect(emptyWins.status == 400, "an empty input is reported before a bad prompt name")
    }

    @Test("the server's default prompt applies when a request names none, and a request's prompt_name replaces it")
    func defaultPrompt() async throws {
        var configuration = APIConfiguration()
        configuration.defaultPromptName = "document"
        let server = try FakeServer(configuration: configuration)
        #expect(
            await server.post("/embed", #"{"inputs":"x","normalize":false}"#).vectors
                == [FakeModel.embed([2, 100, 58, 32, 120, 1])])
        #expect(
            await server.post("/embed", #"{"inputs":"x","normalize":false,"prompt_name":"query"}"#).vectors
                == [FakeModel.embed([2, 113, 58, 32, 120, 1])])
        configuration.defaultPromptName = nil
        configuration.defaultPrompt = "p"
        let literal = try FakeServer(configuration: configuration)
        #expect(
            await literal.post("/embed", #"{"inputs":"x","normalize":false}"#).vectors
                == [FakeModel.embed([2, 112, 120, 1])])
    }

    @Test("an unknown --default-prompt-name is refused when the service starts")
    func unknownDefaultPromptName() throws {
        var configuration = APIConfiguration()
        configuration.defaultPromptName = "missing"
        #expect(throws: APIError.self) { try FakeServer(configuration: configuration) }
    }

    @Test("too many tokens: truncated by default (auto-truncate), a validation error with truncate false")
    func truncation() async throws {
        let long = String(repeating: "a", count: 20) + "z"
        let truncated = await server.post("/embed", #"{"inputs":"\#(long)","normalize":false}"#)
        #expect(truncated.status == 200)
        #expect(truncated.headers["x-compute-tokens"] == "16")
        #expect(truncated.vectors == [FakeModel.embed([2] + Array(repeating: 97, count: 14) + [1])])
        let left = await server.post(
            "/embed", #"{"inputs":"\#(long)","normalize":false,"truncation_direction":"Left"}"#)
        #expect(left.vectors == [FakeModel.embed([2] + Array(repeating: 97, count: 13) + [122, 1])])
        let lowercase = await server.post(
            "/embed", #"{"inputs":"\#(long)","normalize":false,"truncation_direction":"left"}"#)
        #expect(lowercase.vectors == left.vectors)
        let refused = await server.post("/embed", #"{"inputs":"\#(long)","truncate":false}"#)
        #expect(refused.status == 422)
        #expect(
            refused.teiError?.message == "Input validation error: `inputs` must have less than 16 tokens. Given: 23")
        let exact = await server.post("/embed", #"{"inputs":"\#(String(repeating: "a", count: 14))","truncate":false}"#)
        #expect(exact.status == 200, "exactly the maximum is accepted")
    }

    @Test("with --auto-truncate false, a request without `truncate` is refused when too long")
    func autoTruncateOff() async throws {
        var configuration = APIConfiguration()
        configuration.autoTruncate = false
        let server = try FakeServer(configuration: configuration)
        let response = await server.post("/embed", #"{"inputs":"\#(String(repeating: "a", count: 30))"}"#)
        #expect(response.status == 422)
        #expect(
            await server.post("/embed", #"{"inputs":"\#(String(repeating: "a", count: 30))","truncate":true}"#).status
                == 200)
    }

    @Test("empty inputs are TEI's 400 Empty errors")
    func emptyInputs() async throws {
        for body in [#"{"inputs":""}"#, #"{"inputs":[]}"#, #"{"inputs":["a",""]}"#, #"{"inputs":[[1,2],[]]}"#] {
            let response = await server.post("/embed", body)
            #expect(response.status == 400, "\(body)")
            #expect(response.teiError?.message == "Input validation error: `inputs` cannot be empty")
            #expect(response.teiError?.type == "Empty")
        }
    }

    @Test("more inputs than --max-client-batch-size is a validation error naming both numbers")
    func clientBatchSize() async throws {
        let inputs = (0..<33).map { "\"t\($0)\"" }.joined(separator: ",")
        let response = await server.post("/embed", #"{"inputs":[\#(inputs)]}"#)
        #expect(response.status == 422)
        #expect(response.teiError?.message == "batch size 33 > maximum allowed batch size 32")
        let fits = (0..<32).map { "\"t\($0)\"" }.joined(separator: ",")
        #expect(await server.post("/embed", #"{"inputs":[\#(fits)]}"#).vectors.count == 32)
    }

    @Test("token ids outside the model's vocabulary are refused before they reach the encoder")
    func outOfVocabulary() async throws {
        let response = await server.post("/embed", #"{"inputs":[2,70000,1]}"#)
        #expect(response.status == 422)
        #expect(
            response.teiError?.message
                == "Input validation error: token id 70000 is outside the model's vocabulary of 70000 tokens")
        let text = await server.post("/embed", #"{"inputs":"\#u{1F680}"}"#)
        #expect(text.status == 422, "a text whose tokenization yields an id past the vocabulary too")
    }

    @Test("malformed JSON is 400, a wrong shape or type 422, a non-JSON content type 415")
    func malformedBodies() async throws {
        let syntax = await server.post("/embed", #"{"inputs": "x""#)
        #expect(syntax.status == 400)
        #expect(syntax.teiError?.message.hasPrefix("Failed to parse the request body as JSON: ") == true)
        for body in [
            #"{}"#, #"{"inputs": 3}"#, #"{"inputs":"x","normalize":null}"#, #"{"inputs":"x","normalize":"yes"}"#,
            #"{"inputs":"x","truncation_direction":"up"}"#, #"{"inputs":"x","truncation_direction":null}"#,
            #"{"inputs":[1.5]}"#, #"{"inputs":[-1]}"#, #"[1]"#,
        ] {
            let response = await server.post("/embed", body)
            #expect(response.status == 422, "\(body)")
            #expect(response.teiError?.message.hasPrefix("Failed to deserialize the JSON body") == true, "\(body)")
        }
        let form = await server.router.handle(
            HTTPRequest(
                method: "POST", path: "/embed", headers: ["Content-Type": "text/plain"],
                body: Array(#"{"inputs":"x"}"#.utf8)))
        #expect(form.status == 415)
        #expect(form.teiError?.message == "Expected request with `Content-Type: application/json`")
    }

    @Test("unknown fields are ignored and null optional fields take their defaults")
    func lenientFields() async throws {
        let response = await server.post(
            "/embed", #"{"inputs":"x","truncate":null,"prompt_name":null,"dimensions":null,"extra":{"a":[1]}}"#)
        #expect(response.status == 200)
    }

    @Test("POST / and POST /invocations answer as /embed")
    func aliases() async throws {
        let embed = await server.post("/embed", #"{"inputs":"alias"}"#).vectors
        #expect(await server.post("/", #"{"inputs":"alias"}"#).vectors == embed)
        #expect(await server.post("/invocations", #"{"inputs":"alias"}"#).vectors == embed)
    }

    @Test("a failing encoder is a 424 Backend error for every request in the batch")
    func backendFailure() async throws {
        let server = try FakeServer(backend: FakeModel.backend(failing: true))
        let response = await server.post("/embed", #"{"inputs":"x"}"#)
        #expect(response.status == 424)
        #expect(response.teiError?.type == "Backend")
        #expect(response.teiError?.message.hasPrefix("Backend error: ") == true)
        let health = await server.get("/health")
        #expect(health.status == 503)
        #expect(health.teiError?.message == "unhealthy")
        #expect(health.teiError?.type == "Unhealthy")
    }

    @Test("with no permit left, a request is refused at once with 429 Overloaded")
    func overloaded() async throws {
        var configuration = APIConfiguration()
        configuration.maxConcurrentRequests = 2
        let gate = DispatchSemaphore(value: 0)
        let server = try FakeServer(configuration: configuration, backend: FakeModel.backend(embedGate: gate))
        let holder = Task { await server.post("/embed", #"{"inputs":["a","b"]}"#) }
        #expect(await waitUntil { server.router.service.batcher.freePermits == 0 })
        let refused = await server.post("/embed", #"{"inputs":"c"}"#)
        #expect(refused.status == 429)
        #expect(refused.teiError?.message == "Model is overloaded")
        #expect(refused.teiError?.type == "Overloaded")
        gate.signal()
        #expect(await holder.value.status == 200)
        gate.signal()
        #expect(await server.post("/embed", #"{"inputs":"c"}"#).status == 200)
    }
}
