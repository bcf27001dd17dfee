import Foundation
import HTTPServer
import TestSupport
import Testing

@testable import EmbeddingAPI

@Suite("OpenAI-compatible POST /v1/embeddings")
struct OpenAIRouteTests {
    let server: FakeServer

    init() throws {
        server = try FakeServer()
    }

    @Test("the response is an OpenAI list with one indexed embedding per input, the model name and token usage")
    func responseShape() async throws {
        let response = await server.post("/v1/embeddings", #"{"input":["ab","c"],"model":"whatever"}"#)
        #expect(response.status == 200)
        let object = try #require(response.json as? [String: Any])
        #expect(object["object"] as? String == "list")
        #expect(object["model"] as? String == "fake/model")
        let data = try #require(object["data"] as? [[String: Any]])
        #expect(data.map { $0["index"] as? Int } == [0, 1])
        #expect(data.allSatisfy { $0["object"] as? String == "embedding" })
        let first = try #require(data[0]["embedding"] as? [Double])
        #expect(first.map(Float.init) == FakeModel.finalize(FakeModel.embed([2, 97, 98, 1]), nil, true))
        let usage = try #require(object["usage"] as? [String: Int])
        #expect(usage == ["prompt_tokens": 7, "total_tokens": 7])
        #expect(response.headers["x-compute-tokens"] == "7")
        #expect(response.text.hasPrefix(#"{"object":"list","data":[{"object":"embedding","embedding":["#))
    }

    @Test("base64 is the standard base64 of the little-endian float32 bytes of the same vector")
    func base64() async throws {
        let floats = await server.post("/v1/embeddings", #"{"input":"xyz","dimensions":5}"#)
        let encoded = await server.post("/embeddings", #"{"input":"xyz","dimensions":5,"encoding_format":"base64"}"#)
        let floatData = try #require((floats.json as? [String: Any])?["data"] as? [[String: Any]])
        let base64Data = try #require((encoded.json as? [String: Any])?["data"] as? [[String: Any]])
        let expected = try #require(floatData[0]["embedding"] as? [Double]).map(Float.init)
        let text = try #require(base64Data[0]["embedding"] as? String)
        let bytes = try #require(Data(base64Encoded: text))
        #expect(bytes.count == 20)
        let decoded = (0..<5).map { index in
            Float(bitPattern: bytes[index * 4..<index * 4 + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) })
        }
        #expect(decoded == expected)
    }

    @Test("errors use OpenAI's {message, code, type} body")
    func errorShape() async throws {
        let response = await server.post("/v1/embeddings", #"{"input":"x","dimensions":0}"#)
        #expect(response.status == 422)
        let object = try #require(response.json as? [String: Any])
        #expect(object["message"] as? String == "Input validation error: `dimensions` should be positive")
        #expect(object["code"] as? Int == 422)
        #expect(object["type"] as? String == "Validation")
        let format = await server.post("/v1/embeddings", #"{"input":"x","encoding_format":"int8"}"#)
        #expect(format.status == 422)
        #expect((format.json as? [String: Any])?["code"] as? Int == 422)
    }

    @Test("prompt_name and normalize are accepted as extensions; the server default prompt applies otherwise")
    func extensions() async throws {
        let raw = await server.post("/v1/embeddings", #"{"input":"x","prompt_name":"query","normalize":false}"#)
        let data = try #require((raw.json as? [String: Any])?["data"] as? [[String: Any]])
        #expect(
            try #require(data[0]["embedding"] as? [Double]).map(Float.init)
                == FakeModel.embed([2, 113, 58, 32, 120, 1]))
    }

    @Test("GET /v1/models lists the served model name")
    func models() async throws {
        let object = try #require(await server.get("/v1/models").json as? [String: Any])
        let data = try #require(object["data"] as? [[String: Any]])
        #expect(data.map { $0["id"] as? String } == ["fake/model"])
    }
}

@Suite("Other TEI routes")
struct OtherRouteTests {
    let server: FakeServer

    init() throws {
        server = try FakeServer()
    }

    @Test("/embed_all returns every token's hidden state, prompt and special tokens included")
    func embedAll() async throws {
        let response = await server.post("/embed_all", #"{"inputs":["a","bc"]}"#)
        #expect(response.status == 200)
        let states = try #require(response.json as? [[[Double]]])
        #expect(states.count == 2)
        #expect(states[0] == [[2, 4, -1], [97, 194, -1], [1, 2, -1]])
        #expect(states[1].count == 4)
    }

    @Test("/similarity returns the cosine of the source against each sentence, from un-normalized vectors")
    func similarity() async throws {
        let response = await server.post(
            "/similarity", #"{"inputs":{"source_sentence":"ab","sentences":["ab","zz"]},"parameters":null}"#)
        #expect(response.status == 200)
        let scores = try #require(response.json as? [Double])
        let a = FakeModel.embed([2, 97, 98, 1])
        let b = FakeModel.embed([2, 122, 122, 1])
        #expect(abs(scores[0] - 1) < 1e-6)
        #expect(abs(Float(scores[1]) - APIRouter.cosine(a, b)) < 1e-6)
        let empty = await server.post("/similarity", #"{"inputs":{"source_sentence":"a","sentences":[]}}"#)
        #expect(empty.status == 400)
        #expect(empty.teiError?.message == "`inputs.sentences` cannot be empty")
        let sentences = (0..<32).map { "\"s\($0)\"" }.joined(separator: ",")
        let tooMany = await server.post(
            "/similarity", #"{"inputs":{"source_sentence":"a","sentences":[\#(sentences)]}}"#)
        #expect(tooMany.teiError?.message == "batch size 33 > maximum allowed batch size 32")
    }

    @Test("/tokenize shows ids, texts, special flags and UTF-8 byte offsets into the prompt-prefixed input")
    func tokenize() async throws {
        let response = await server.post("/tokenize", #"{"inputs":"é!","prompt_name":"query"}"#)
        #expect(response.status == 200)
        let lists = try #require(response.json as? [[[String: Any]]])
        #expect(lists.count == 1)
        let tokens = lists[0]
        #expect(tokens.count == 7)
        #expect(tokens[0]["special"] as? Bool == true)
        #expect(tokens[0]["text"] as? String == "<bos>")
        #expect(tokens[0]["start"] is NSNull)
        #expect(tokens[4]["text"] as? String == "é")
        #expect(tokens[4]["start"] as? Int == 3)
        #expect(tokens[4]["stop"] as? Int == 5)
        #expect(tokens[5]["start"] as? Int == 5)
        let plain = await server.post("/tokenize", #"{"inputs":["a","b"],"add_special_tokens":false}"#)
        #expect((plain.json as? [[[String: Any]]])?.map(\.count) == [1, 1])
        let emptyBatch = await server.post("/tokenize", #"{"inputs":[]}"#)
        #expect(emptyBatch.status == 400)
        #expect(emptyBatch.teiError?.message == "`inputs` cannot be empty")
        let emptyText = await server.post("/tokenize", #"{"inputs":""}"#)
        #expect(emptyText.teiError?.message == "Input validation error: `inputs` cannot be empty")
    }

    @Test("/decode turns one or many id lists back into text, skipping special tokens by default")
    func decode() async throws {
        #expect(await server.post("/decode", #"{"ids":[2,104,105,1]}"#).json as? [String] == ["hi"])
        #expect(
            await server.post("/decode", #"{"ids":[[2,104,1],[105]],"skip_special_tokens":false}"#).json as? [String]
                == ["\u{2}h\u{1}", "i"])
        let empty = await server.post("/decode", #"{"ids":[]}"#)
        #expect(empty.status == 400)
        #expect(empty.teiError?.message == "Input validation error: `input_ids` cannot be empty")
    }

    @Test("/rerank, /predict and /embed_sparse answer TEI's 424 for an embedding model")
    func unsupportedTasks() async throws {
        let cases = [
            ("/rerank", #"{"query":"a","texts":["b"]}"#, "Backend error: model is not a re-ranker model"),
            ("/predict", #"{"inputs":"a"}"#, "Backend error: Model is not a classifier model"),
            ("/embed_sparse", #"{"inputs":"a"}"#, "Backend error: Model is not an embedding model with SPLADE pooling"),
        ]
        for (path, body, message) in cases {
            let response = await server.post(path, body)
            #expect(response.status == 424)
            #expect(response.teiError?.message == message)
            #expect(response.teiError?.type == "Backend")
        }
    }

    @Test("/info reports TEI's fields in TEI's order with the server's limits")
    func info() async throws {
        let response = await server.get("/info")
        let object = try #require(response.json as? [String: Any])
        #expect(object["model_id"] as? String == "fake/model")
        #expect(object["model_sha"] is NSNull)
        #expect(object["model_dtype"] as? String == "float32")
        #expect((object["model_type"] as? [String: [String: String]]) == ["embedding": ["pooling": "mean"]])
        #expect(object["max_concurrent_requests"] as? Int == 512)
        #expect(object["max_input_length"] as? Int == 16)
        #expect(object["max_batch_tokens"] as? Int == 16384)
        #expect(object["max_batch_requests"] is NSNull)
        #expect(object["max_client_batch_size"] as? Int == 32)
        #expect(object["auto_truncate"] as? Bool == true)
        #expect(object["tokenization_workers"] as? Int == 1)
        #expect(object["version"] as? String == "1.9.3")
        #expect((object["prompts"] as? [String: String]) == FakeModel.prompts)
        #expect(object["kernels"] as? String == "fake-kernels")
        #expect(
            response.text.hasPrefix(
                #"{"model_id":"fake/model","model_sha":null,"model_dtype":"float32","served_model_name""#))
    }

    @Test("/health, / and /ping answer 200 with an empty body; /openapi.json and /docs describe the API")
    func healthAndDocs() async throws {
        for path in ["/health", "/", "/ping"] {
            let response = await server.get(path)
            #expect(response.status == 200)
            #expect(response.body.isEmpty)
        }
        let document = try #require(await server.get("/openapi.json").json as? [String: Any])
        #expect((document["paths"] as? [String: Any])?["/embed"] != nil)
        let docs = await server.get("/docs")
        #expect(docs.headers["content-type"]?.hasPrefix("text/html") == true)
        #expect(docs.text.contains("/openapi.json"))
    }

    @Test("/metrics uses TEI's names once something was recorded")
    func metrics() async throws {
        _ = await server.post("/embed", #"{"inputs":["a","b"]}"#)
        _ = await server.post("/embed", #"{"inputs":""}"#)
        let text = await server.get("/metrics").text
        #expect(text.contains(#"te_request_count{method="batch"} 1"#))
        #expect(text.contains(#"te_request_count{method="single"} 1"#))
        #expect(text.contains(#"te_request_success{method="batch"} 1"#))
        #expect(text.contains(#"te_request_failure{err="validation"} 1"#))
        #expect(text.contains("te_embed_count 2"))
        #expect(text.contains("te_batch_next_size_count"))
        #expect(text.contains("te_batch_next_tokens_sum"))
        #expect(text.contains("te_request_input_length_bucket"))
        #expect(text.contains("te_queue_size"))
        #expect(text.contains("# TYPE te_request_duration histogram"))
    }

    @Test("with --api-key, protected routes need the bearer key (401, empty body); health and metrics stay open")
    func apiKey() async throws {
        var configuration = APIConfiguration()
        configuration.apiKey = "s3cret"
        let server = try FakeServer(configuration: configuration)
        let missing = await server.post("/embed", #"{"inputs":"x"}"#)
        #expect(missing.status == 401)
        #expect(missing.body.isEmpty)
        #expect(
            await server.post("/embed", #"{"inputs":"x"}"#, headers: [("Authorization", "Bearer wrong!")]).status == 401
        )
        #expect(
            await server.post("/embed", #"{"inputs":"x"}"#, headers: [("Authorization", "Bearer s3cret")]).status == 200
        )
        #expect(await server.get("/info").status == 401)
        #expect(await server.get("/health").status == 200)
        #expect(await server.get("/metrics").status == 200)
    }

    @Test("unknown paths are 404 and known paths with the wrong method 405, both with empty bodies")
    func unknownRoutes() async throws {
        #expect(await server.get("/nope").status == 404)
        #expect(await server.get("/embed").status == 405)
        #expect(await server.post("/info", "{}").status == 405)
    }

    @Test("every response carries x-request-id: the client's when given, else a fresh one")
    func requestID() async throws {
        #expect(await server.get("/health", headers: [("x-request-id", "abc-1")]).headers["x-request-id"] == "abc-1")
        let first = await server.get("/health").headers["x-request-id"]
        let second = await server.post("/embed", #"{"inputs":""}"#).headers["x-request-id"]
        #expect(first != nil && second != nil && first != second)
    }

    @Test("a generated request id is a lowercase version 4 UUID, fresh each time")
    func generatedRequestIDs() {
        let ids = (0..<1000).map { _ in APIRouter.generatedRequestID() }
        #expect(Set(ids).count == ids.count)
        for id in ids {
            let parsed = UUID(uuidString: id)
            #expect(parsed != nil && parsed?.uuidString.lowercased() == id, "\(id)")
            let characters = Array(id)
            #expect(characters[14] == "4" && "89ab".contains(characters[19]), "\(id)")
        }
    }

    @Test("JSON content types: application/json or application/*+json, any case, parameters and blanks allowed")
    func jsonContentTypes() {
        for accepted in [
            "application/json", "Application/JSON", "application/json; charset=utf-8", " \tapplication/json \t;x",
            "application/problem+json", "APPLICATION/VND.API+JSON;v=1", "application/+json",
        ] {
            #expect(APIRouter.isJSON(accepted), "\(accepted)")
        }
        for refused in [
            nil, "", "text/plain", "application/jsonx", "application/json5", "application/xml", "text/json",
            "application/json+xml", "application/", "application", "json", "application /json", "+json",
            "application/x+jsonp", "application/jso", "\u{A0}application/json",
        ] {
            #expect(!APIRouter.isJSON(refused), "\(String(describing: refused))")
        }
    }

    @Test("the server's own errors (413, 408, …) are rendered in TEI's error shape")
    func serverErrors() {
        let response = APIRouter.errorResponder(
            HTTPServerError(status: 413, message: "Failed to buffer the request body: length limit exceeded"))
        #expect(response.status == 413)
        #expect(response.teiError?.message == "Failed to buffer the request body: length limit exceeded")
    }
}
