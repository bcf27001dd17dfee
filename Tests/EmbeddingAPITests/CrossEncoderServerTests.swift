import Foundation
import Testing

@testable import EmbeddingAPI

/// sentence-transformers' `CrossEncoder.predict` on the tiny cross-encoders
/// (scripts/fixtures/make-tiny-cross-encoders.py).
private struct Expected: Decodable {
    struct Case: Decodable {
        let texts: [String]
        let ids: [Int32]
        let logits: [Float]
        let scores: [Float]
    }

    let labels: [String]
    let cases: [Case]

    var pairs: [Case] { cases.filter { $0.texts.count == 2 } }
    var singles: [Case] { cases.filter { $0.texts.count == 1 } }

    static func load(_ model: String) throws -> Expected {
        let path = fixturePath("../../EmbeddingModelTests/Fixtures/tiny-cross-expected.json")
        let all = try JSONDecoder().decode([String: Expected].self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        return try #require(all[model])
    }
}

private func crossEncoderServer(_ name: String) -> Result<LoopbackServer, any Error> {
    Result {
        try LoopbackServer(
            router: liveRouter(directory: fixturePath("../../EmbeddingModelTests/Fixtures/\(name)"), modelID: name))
    }
}

/// A reranker (one label) and a classifier (three), each behind the real server on loopback.
private let rerankerServer = crossEncoderServer("tiny-cross-bert")
private let classifierServer = crossEncoderServer("tiny-cross-roberta")

private func close(_ a: Double, _ b: Float) -> Bool { abs(Float(a) - b) <= 1e-4 }

/// `[{"score", "label"}]` as (label, score) pairs, in the order answered.
private func predictions(_ value: Any?) -> [(label: String, score: Double)]? {
    (value as? [[String: Any]])?.compactMap { entry in
        guard let label = entry["label"] as? String, let score = entry["score"] as? Double else { return nil }
        return (label, score)
    }
}

@Suite("HTTP server with tiny cross-encoders: /rerank and /predict")
struct CrossEncoderServerTests {
    @Test("/rerank answers every text's score within 1e-4 of CrossEncoder.predict, highest first, with its index")
    func rerank() async throws {
        let server = try rerankerServer.get()
        let expected = try Expected.load("tiny-cross-bert")
        let query = expected.pairs[0].texts[0]
        let texts = expected.pairs.map { $0.texts[1] }
        let response = try await server.post("/rerank", try jsonText(["query": query, "texts": texts]))
        #expect(response.status == 200, "\(response.text)")
        let ranks = try #require(response.json as? [[String: Any]])
        #expect(ranks.count == texts.count)
        let indices = ranks.compactMap { $0["index"] as? Int }
        #expect(Set(indices) == Set(texts.indices))
        let scores = ranks.compactMap { $0["score"] as? Double }
        #expect(scores == scores.sorted(by: >))
        for (index, score) in zip(indices, scores) {
            #expect(close(score, expected.pairs[index].scores[0]), "\(texts[index]): \(score)")
        }
        #expect(ranks.allSatisfy { $0["text"] == nil })
        #expect(response.headers["x-compute-tokens"] == String(expected.pairs.reduce(0) { $0 + $1.ids.count }))
        let characters = texts.reduce(0) { $0 + query.unicodeScalars.count + $1.unicodeScalars.count }
        #expect(response.headers["x-compute-characters"] == String(characters))
    }

    @Test("/rerank with raw_scores answers the logits, with return_text the texts")
    func rerankOptions() async throws {
        let server = try rerankerServer.get()
        let expected = try Expected.load("tiny-cross-bert")
        let pairs = Array(expected.pairs.prefix(3))
        let body = try jsonText([
            "query": pairs[0].texts[0], "texts": pairs.map { $0.texts[1] }, "raw_scores": true, "return_text": true,
        ])
        let ranks = try #require(try await server.post("/rerank", body).json as? [[String: Any]])
        for rank in ranks {
            let index = try #require(rank["index"] as? Int)
            #expect(rank["text"] as? String == pairs[index].texts[1])
            #expect(close(try #require(rank["score"] as? Double), pairs[index].logits[0]))
        }
    }

    @Test("/predict takes a text, a pair or a batch of both, and answers each label's score, highest first")
    func predict() async throws {
        let server = try classifierServer.get()
        let expected = try Expected.load("tiny-cross-roberta")
        func check(_ answered: [(label: String, score: Double)]?, _ reference: Expected.Case, raw: Bool = false) {
            guard let answered else {
                Issue.record("no predictions")
                return
            }
            let values = raw ? reference.logits : reference.scores
            #expect(answered.map(\.score) == answered.map(\.score).sorted(by: >))
            #expect(Set(answered.map(\.label)) == Set(expected.labels))
            for (label, score) in answered {
                let id = try! #require(expected.labels.firstIndex(of: label))
                #expect(close(score, values[id]), "\(reference.texts) \(label)")
            }
        }
        let single = expected.singles[0], pair = expected.pairs[1]
        let singleResponse = try await server.post("/predict", try jsonText(["inputs": single.texts[0]]))
        #expect(singleResponse.status == 200, "\(singleResponse.text)")
        check(predictions(singleResponse.json), single)
        check(predictions(try await server.post("/predict", try jsonText(["inputs": pair.texts])).json), pair)
        check(
            predictions(
                try await server.post("/predict", try jsonText(["inputs": pair.texts, "raw_scores": true])).json),
            pair, raw: true)
        let batch = try await server.post("/predict", try jsonText(["inputs": expected.cases.map(\.texts)]))
        let lists = try #require(batch.json as? [Any])
        #expect(lists.count == expected.cases.count)
        for (list, reference) in zip(lists, expected.cases) { check(predictions(list), reference) }
        #expect(batch.headers["x-compute-tokens"] == String(expected.cases.reduce(0) { $0 + $1.ids.count }))
    }

    @Test("a reranker answers /predict too, with its one label")
    func rerankerPredicts() async throws {
        let server = try rerankerServer.get()
        let pair = try Expected.load("tiny-cross-bert").pairs[0]
        let answered = try #require(
            predictions(try await server.post("/predict", try jsonText(["inputs": pair.texts])).json))
        #expect(answered.map(\.label) == ["LABEL_0"])
        #expect(close(answered[0].score, pair.scores[0]))
    }

    @Test("/rerank and /predict refuse what TEI refuses, with TEI's errors")
    func errors() async throws {
        let reranker = try rerankerServer.get()
        let classifier = try classifierServer.get()
        let empty = try await reranker.post("/rerank", #"{"query":"q","texts":[]}"#)
        #expect(empty.status == 400)
        #expect(empty.teiError?.message == "`texts` cannot be empty")
        #expect(empty.teiError?.type == "Empty")
        let tooMany = try await reranker.post(
            "/rerank", try jsonText(["query": "q", "texts": Array(repeating: "d", count: 33)]))
        #expect(tooMany.status == 422)
        #expect(tooMany.teiError?.message == "batch size 33 > maximum allowed batch size 32")
        let emptyPair = try await reranker.post("/rerank", #"{"query":"","texts":["a",""]}"#)
        #expect(emptyPair.status == 400)
        #expect(emptyPair.teiError?.message == "Input validation error: `inputs` cannot be empty")
        #expect(try await reranker.post("/rerank", #"{"query":"","texts":["a"]}"#).status == 200)
        let notReranker = try await classifier.post("/rerank", #"{"query":"q","texts":["d"]}"#)
        #expect(notReranker.status == 424)
        #expect(notReranker.teiError?.message == "Backend error: model is not a re-ranker model")
        let emptyInput = try await classifier.post("/predict", #"{"inputs":""}"#)
        #expect(emptyInput.status == 400)
        #expect(emptyInput.teiError?.type == "Empty")
        for body in [#"{"inputs":[]}"#, #"{"inputs":["a","b","c"]}"#, #"{"inputs":[["a","b","c"]]}"#, #"{"inputs":3}"#]
        {
            let response = try await classifier.post("/predict", body)
            #expect(response.status == 422, "\(body)")
            #expect(response.teiError?.message.hasPrefix("Failed to deserialize the JSON body") == true, "\(body)")
        }
        let batch = try await classifier.post("/predict", try jsonText(["inputs": Array(repeating: ["a"], count: 33)]))
        #expect(batch.teiError?.message == "batch size 33 > maximum allowed batch size 32")
        let untruncated = try await reranker.post(
            "/rerank",
            try jsonText(["query": "q", "texts": [String(repeating: "paris ", count: 60)], "truncate": false]))
        #expect(untruncated.status == 422)
        #expect(
            untruncated.teiError?.message.hasPrefix("Input validation error: `inputs` must have less than 40") == true)
        // Past 250 characters a token (TEI's limit, 10,000 here), counted over both texts of a pair: refused unless
        // truncated, when each text keeps its first 5,000 bytes.
        let long = String(repeating: "a ", count: 6000)
        let tooLong = try await reranker.post(
            "/rerank", try jsonText(["query": "q", "texts": [long], "truncate": false]))
        #expect(
            tooLong.teiError?.message
                == "Input validation error: `inputs` must have less than 10000 characters. Given: 12001")
        #expect(try await reranker.post("/rerank", try jsonText(["query": "q", "texts": [long]])).status == 200)
    }

    @Test("a classifier answers the embedding routes with TEI's 424; /tokenize still works")
    func embeddingRoutesRefused() async throws {
        let server = try rerankerServer.get()
        for (path, body) in [
            ("/embed", #"{"inputs":"a"}"#), ("/embed_all", #"{"inputs":"a"}"#),
            ("/similarity", #"{"inputs":{"source_sentence":"a","sentences":["b"]}}"#),
        ] {
            let response = try await server.post(path, body)
            #expect(response.status == 424, "\(path)")
            #expect(response.teiError?.message == "Backend error: Model is not an embedding model", "\(path)")
        }
        let openAI = try await server.post("/v1/embeddings", #"{"input":"a"}"#)
        #expect(openAI.status == 424)
        #expect(
            (openAI.json as? [String: Any])?["message"] as? String == "Backend error: Model is not an embedding model")
        #expect(try await server.post("/tokenize", #"{"inputs":"paris"}"#).status == 200)
    }

    @Test("/info reports a reranker or a classifier with its labels, as TEI's model_type")
    func info() async throws {
        let reranker = try #require(try await rerankerServer.get().send("GET", "/info").json as? [String: Any])
        #expect(
            reranker["model_type"] as? NSDictionary
                == ["reranker": ["id2label": ["0": "LABEL_0"], "label2id": ["LABEL_0": 0]]] as NSDictionary)
        let classifier = try #require(try await classifierServer.get().send("GET", "/info").json as? [String: Any])
        let type = try #require((classifier["model_type"] as? [String: Any])?["classifier"] as? [String: Any])
        #expect(type["id2label"] as? [String: String] == ["0": "contradiction", "1": "entailment", "2": "neutral"])
        #expect(type["label2id"] as? [String: Int] == ["contradiction": 0, "entailment": 1, "neutral": 2])
    }

    @Test("/vertex answers a rerank-shaped instance as /rerank and any other as /predict on a classifier")
    func vertex() async throws {
        let server = try rerankerServer.get()
        let pair = try Expected.load("tiny-cross-bert").pairs[0]
        let body = try jsonText([
            "instances": [["query": pair.texts[0], "texts": [pair.texts[1]]], ["inputs": pair.texts]]
        ])
        let response = try await server.post("/vertex", body)
        #expect(response.status == 200, "\(response.text)")
        let predictions = try #require((response.json as? [String: Any])?["predictions"] as? [Any])
        let rank = try #require((predictions[0] as? [[String: Any]])?.first)
        #expect(rank["index"] as? Int == 0)
        #expect(close(try #require(rank["score"] as? Double), pair.scores[0]))
        let predicted = try #require(predictions.count == 2 ? (predictions[1] as? [[String: Any]])?.first : nil)
        #expect(predicted["label"] as? String == "LABEL_0")
        #expect(close(try #require(predicted["score"] as? Double), pair.scores[0]))
    }
}
