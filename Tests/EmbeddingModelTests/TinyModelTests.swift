import Foundation
import TestSupport
import Testing

@testable import EmbeddingModel

@Suite("Tiny Gemma3 model against sentence-transformers")
struct TinyModelTests {
    let expected: TinyExpectations
    let embedder: SentenceEmbedder

    init() throws {
        expected = try TinyExpectations.load()
        embedder = try SentenceEmbedder(directory: Fixtures.tinyModel, pool: testPool)
    }

    @Test("model info comes from config.json, the Dense layers, the prompts file and the tokenizer's length limit")
    func info() {
        let info = embedder.info
        #expect(info.hiddenSize == 48)
        #expect(info.embeddingDimensions == 48)
        #expect(info.vocabularySize == 256)
        #expect(info.maxSequenceLength == 64)
        #expect(info.modelType == "gemma3_text")
        #expect(info.prompts == ["query": "task: search result | query: ", "document": "title: none | text: "])
        #expect(info.defaultPromptName == "query")
    }

    @Test("the fixture covers both layer types and sequences longer than the sliding window")
    func fixtureIsMeaningful() throws {
        let config = try EncoderConfiguration(path: Fixtures.tinyModel + "/config.json")
        #expect(Set(config.layerKinds) == [.full, .sliding])
        #expect(config.windowRadius == 4)
        #expect(expected.cases.contains { $0.ids.count > 2 * config.windowRadius + 1 })
        #expect(config.queryPreAttentionScalar != Double(config.headDim))
        #expect(config.ropeThetaFull == 1_000_000 && config.ropeThetaSliding == 10_000)
    }

    @Test("each sequence alone gives sentence-transformers' raw and normalised vectors")
    func pooledOneAtATime() throws {
        for item in expected.cases {
            let raw = try embedder.embed([item.ids])[0]
            #expect(maxAbsDifference(raw, item.raw) < 1e-4, "ids \(item.ids)")
            #expect(cosine(raw, item.raw) > 0.9999999, "ids \(item.ids)")
            let normalized = finalizeEmbedding(raw, dimensions: nil, normalize: true)
            #expect(maxAbsDifference(normalized, item.normalized) < 1e-5, "ids \(item.ids)")
        }
    }

    @Test("token states match the reference's last_hidden_state")
    func tokenStates() throws {
        let states = try embedder.tokenEmbeddings(expected.cases.map(\.ids))
        for (item, hidden) in zip(expected.cases, states) {
            #expect(hidden.count == item.ids.count * 48)
            #expect(maxAbsDifference(hidden, item.hidden) < 1e-4, "ids \(item.ids)")
        }
    }

    @Test("a packed batch of different lengths gives each sequence its own vector")
    func packedBatch() throws {
        let batch = try embedder.embed(expected.cases.map(\.ids))
        #expect(batch.count == expected.cases.count)
        for (item, raw) in zip(expected.cases, batch) {
            #expect(maxAbsDifference(raw, item.raw) < 1e-4, "ids \(item.ids)")
        }
        // The reverse order packs every sequence at a different offset.
        let reversed = try embedder.embed(expected.cases.reversed().map(\.ids))
        for (forward, backward) in zip(batch, reversed.reversed()) {
            #expect(cosine(forward, backward) > 0.999999)
        }
    }

    @Test("an empty sequence, an id past the table and an over-long sequence are errors naming the sequence")
    func invalidInput() throws {
        #expect(throws: EmbeddingError.emptySequence(index: 1)) { try embedder.embed([[2, 1], []]) }
        #expect(throws: EmbeddingError.tokenOutOfRange(sequence: 0, position: 2, id: 256, vocabularySize: 256)) {
            try embedder.embed([[2, 5, 256, 1]])
        }
        #expect(throws: EmbeddingError.tokenOutOfRange(sequence: 0, position: 0, id: -1, vocabularySize: 256)) {
            try embedder.tokenEmbeddings([[-1]])
        }
        #expect(throws: EmbeddingError.sequenceTooLong(index: 0, tokens: 65, maxTokens: 64)) {
            try embedder.embed([[Int32](repeating: 7, count: 65)])
        }
        #expect(try embedder.embed([]).isEmpty)
    }

    @Test("a sequence of exactly the maximum length is accepted")
    func maximumLength() throws {
        let vectors = try embedder.embed([[Int32](repeating: 9, count: 64), [2, 1]])
        #expect(vectors.count == 2 && vectors.allSatisfy { $0.count == 48 && $0.allSatisfy(\.isFinite) })
    }
}
