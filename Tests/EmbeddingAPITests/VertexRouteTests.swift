import Foundation
import HTTPServer
import Testing

@testable import EmbeddingAPI

/// `predictions` of a `/vertex` response: per instance, the `/embed` body (`[[Float]]`).
private func predictions(_ response: HTTPResponse) -> [[[Float]]]? {
    guard let object = response.json as? [String: Any], object.count == 1,
        let list = object["predictions"] as? [[[Double]]]
    else { return nil }
    return list.map { $0.map { $0.map(Float.init) } }
}

@Suite("POST /vertex")
struct VertexRouteTests {
    let server: FakeServer

    init() throws {
        var configuration = APIConfiguration()
        configuration.maxClientBatchSize = 2
        server = try FakeServer(configuration: configuration)
    }

    @Test("each instance is an /embed request with its own options; predictions are their bodies in order")
    func instancesInOrder() async throws {
        let response = await server.post(
            "/vertex",
            #"{"instances":[{"inputs":"hi"},{"inputs":["a","bb"],"normalize":false},{"inputs":"x","dimensions":3,"prompt_name":"query"}]}"#
        )
        #expect(response.status == 200)
        #expect(response.headers["content-type"] == "application/json")
        #expect(response.headers["x-compute-tokens"] == nil, "TEI sets no timing headers on /vertex")
        let expected: [[[Float]]] = [
            [FakeModel.finalize(FakeModel.embed([2, 104, 105, 1]), nil, true)],
            [FakeModel.embed([2, 97, 1]), FakeModel.embed([2, 98, 98, 1])],
            [FakeModel.finalize(FakeModel.embed([2, 113, 58, 32, 120, 1]), 3, true)],
        ]
        #expect(predictions(response) == expected)
    }

    @Test("the batch-size limit applies per instance, not to the sum of instances")
    func batchSizePerInstance() async throws {
        let fits = await server.post("/vertex", #"{"instances":[{"inputs":["a","b"]},{"inputs":["c","d"]}]}"#)
        #expect(predictions(fits)?.map(\.count) == [2, 2])
        let tooMany = await server.post("/vertex", #"{"instances":[{"inputs":"a"},{"inputs":["a","b","c"]}]}"#)
        #expect(tooMany.status == 422)
        #expect(tooMany.teiError?.message == "batch size 3 > maximum allowed batch size 2")
    }

    @Test("no instances give no predictions")
    func empty() async throws {
        let response = await server.post("/vertex", #"{"instances":[]}"#)
        #expect(response.status == 200)
        #expect(response.text == #"{"predictions":[]}"#)
    }

    @Test("an instance that is not an /embed request fails the call with 422 and serde's bare message")
    func badInstance() async throws {
        let missing = await server.post("/vertex", #"{"instances":[{"inputs":"a"},{"text":"b"}]}"#)
        #expect(missing.status == 422)
        #expect(missing.teiError?.message == "missing field `inputs`")
        #expect(missing.teiError?.type == "Validation")
        let notObject = await server.post("/vertex", #"{"instances":["a"]}"#)
        #expect(notObject.status == 422)
        #expect(notObject.teiError?.message == #"invalid type: string "a", expected struct EmbedRequest"#)
        let noInstances = await server.post("/vertex", #"{"inputs":"a"}"#)
        #expect(noInstances.status == 422)
        #expect(
            noInstances.teiError?.message
                == "Failed to deserialize the JSON body into the target type: missing field `instances`")
    }

    @Test("an instance failing in the pipeline answers that error; a rerank-shaped one gets /rerank's error")
    func instanceErrors() async throws {
        let empty = await server.post("/vertex", #"{"instances":[{"inputs":"a"},{"inputs":""}]}"#)
        #expect(empty.status == 400)
        #expect(empty.teiError?.message == "Input validation error: `inputs` cannot be empty")
        let rerank = await server.post("/vertex", #"{"instances":[{"query":"q","texts":["a","b"]}]}"#)
        #expect(rerank.status == 424)
        #expect(rerank.teiError?.message == "Backend error: model is not a re-ranker model")
    }

    @Test("/vertex is an API route: --api-key guards it; GET is 405")
    func protectedRoute() async throws {
        var configuration = APIConfiguration()
        configuration.apiKey = "k"
        let guarded = try FakeServer(configuration: configuration)
        #expect(await guarded.post("/vertex", #"{"instances":[]}"#).status == 401)
        #expect(
            await guarded.post("/vertex", #"{"instances":[]}"#, headers: [("Authorization", "Bearer k")]).status == 200)
        #expect(await server.get("/vertex").status == 405)
    }
}
