import Foundation
import TestSupport
import Testing

@testable import Embeddings

@Suite("Embedder on the tiny model")
struct EmbedderTests {
    @Test("info reports the model's width, limit, prompts and default prompt")
    func info() throws {
        let info = try tinyEmbedder.get().info
        #expect(info.dimensions == 48)
        #expect(info.hiddenSize == 48)
        #expect(info.maxSequenceLength > 0)
        #expect(info.prompts == ["query": "task: search result | query: ", "document": "title: none | text: "])
        #expect(info.defaultPromptName == "query")
        #expect(info.modelType == "gemma3_text")
    }

    @Test("the default prompt is the model's default_prompt_name, as in sentence-transformers")
    func defaultPrompt() async throws {
        let embedder = try tinyEmbedder.get()
        let byDefault = try await embedder.embed("the end")
        let named = try await embedder.embed("the end", prompt: .named("query"))
        let literal = try await embedder.embed("the end", prompt: .text("task: search result | query: "))
        let manual = try await embedder.embed("task: search result | query: the end", prompt: .none)
        let bare = try await embedder.embed("the end", prompt: .none)
        #expect(cosineSimilarity(byDefault, named) > 0.999999)
        #expect(cosineSimilarity(literal, named) > 0.999999)
        #expect(cosineSimilarity(manual, named) > 0.999999)
        #expect(cosineSimilarity(bare, named) < 0.9999)
    }

    @Test("a prompt name the model lacks is a typed error listing the ones it has")
    func unknownPrompt() async throws {
        let embedder = try tinyEmbedder.get()
        await #expect(throws: EmbeddingsError.unknownPrompt(name: "STS", available: ["document", "query"])) {
            try await embedder.embed("x", prompt: .named("STS"))
        }
        #expect(throws: EmbeddingsError.unknownPrompt(name: "STS", available: ["document", "query"])) {
            try embedder.tokenize("x", prompt: .named("STS"))
        }
    }

    @Test("vectors equal the encoder's own output for the same ids, normalized or raw")
    func matchesEncoder() async throws {
        let embedder = try tinyEmbedder.get()
        let ids = try embedder.tokenize("Héllo, world!", prompt: .named("document")).ids.map { Int32($0) }
        let raw = try embedder.embedPacked([ids])[0]
        let unnormalized = try await embedder.embed("Héllo, world!", prompt: .named("document"), normalize: false)
        #expect(zip(unnormalized, raw).allSatisfy { abs($0 - $1) <= 1e-4 * max(1, abs($1)) })
        let normalized = try await embedder.embed("Héllo, world!", prompt: .named("document"))
        #expect(abs(norm(normalized) - 1) < 1e-5)
        #expect(abs(norm(unnormalized) - 1) > 1e-3)
        #expect(cosineSimilarity(normalized, raw) > 0.999999)
    }

    @Test("dimensions keeps the Matryoshka prefix, then normalizes it")
    func dimensions() async throws {
        let embedder = try tinyEmbedder.get()
        let full = try await embedder.embed("the queen sat", normalize: false)
        let cut = try await embedder.embed("the queen sat", dimensions: 16)
        #expect(cut.count == 16)
        #expect(abs(norm(cut) - 1) < 1e-5)
        #expect(cosineSimilarity(cut, Array(full.prefix(16))) > 0.999999)
        let rawCut = try await embedder.embed("the queen sat", dimensions: 16, normalize: false)
        #expect(zip(rawCut, full.prefix(16)).allSatisfy { abs($0 - $1) <= 1e-4 * max(1, abs($1)) })
    }

    @Test("dimensions of 0 or above the model's width is a typed error", arguments: [0, 49, -3])
    func invalidDimensions(dimensions: Int) async throws {
        let embedder = try tinyEmbedder.get()
        await #expect(throws: EmbeddingsError.invalidDimensions(requested: dimensions, maximum: 48)) {
            try await embedder.embed(["x"], dimensions: dimensions)
        }
    }

    @Test("a batch answers in order, each text as if embedded alone; no texts, no vectors")
    func batchOrder() async throws {
        let embedder = try tinyEmbedder.get()
        let texts = ["the queen sat", "Héllo, world!", "the end", ""]
        let batch = try await embedder.embed(texts, prompt: .none)
        #expect(batch.count == texts.count)
        for (text, vector) in zip(texts, batch) {
            let alone = try await embedder.embed(text, prompt: .none)
            #expect(cosineSimilarity(alone, vector) > 0.999999)
        }
        #expect(try await embedder.embed([String]()).isEmpty)
    }

    @Test("concurrent calls from many tasks share forward passes and each gets its own vectors")
    func concurrentCallsAreBatched() async throws {
        // Its own instance: the other tests' calls would count in the shared one's batches.
        let embedder = try Embedder(directory: Fixtures.tinyModel, options: .init(computeThreads: 2))
        let texts = (0..<48).map { "the queen sat \($0) times" }
        var expected: [[Float]] = []
        for text in texts { expected.append(try await tinyEmbedder.get().embed(text, prompt: .none)) }
        // A long bulk call first, so the single calls queue behind a running pass and are packed together.
        let bulk = Array(repeating: String(repeating: "the queen sat ", count: 40), count: 400)
        let before = embedder.batchCounts
        let results = try await withThrowingTaskGroup(of: (Int, [Float]).self) { group in
            group.addTask { (-1, try await embedder.embed(bulk, prompt: .none)[0]) }
            for (index, text) in texts.enumerated() {
                group.addTask { (index, try await embedder.embed(text, prompt: .none)) }
            }
            var results: [Int: [Float]] = [:]
            for try await (index, vector) in group { results[index] = vector }
            return results
        }
        // The batcher records a pass after answering its calls: wait for the last record.
        #expect(await waitUntil { embedder.batchCounts.inputs - before.inputs >= texts.count + bulk.count })
        let after = embedder.batchCounts
        for (index, vector) in expected.enumerated() {
            #expect(cosineSimilarity(try #require(results[index]), vector) > 0.999999)
        }
        let calls = texts.count + 1
        #expect(after.inputs - before.inputs == texts.count + bulk.count)
        #expect(after.batches - before.batches < calls, "\(after.batches - before.batches) passes for \(calls) calls")
    }

    @Test("a call whose task is cancelled before its inputs run throws cancelled")
    func cancellation() async throws {
        let embedder = try tinyEmbedder.get()
        let task = Task {
            // Starts embedding only once cancelled, so the batcher always sees a cancelled caller.
            while !Task.isCancelled { await Task.yield() }
            return try await embedder.embed("the queen sat")
        }
        task.cancel()
        await #expect(throws: EmbeddingsError.cancelled) { try await task.value }
    }

    @Test("cosineSimilarity: same direction 1, opposite −1, orthogonal 0, zero vector 0")
    func similarity() {
        #expect(abs(cosineSimilarity([1, 2, 3], [2, 4, 6]) - 1) < 1e-6)
        #expect(abs(cosineSimilarity([1, 0], [-3, 0]) + 1) < 1e-6)
        #expect(cosineSimilarity([1, 0], [0, 5]) == 0)
        #expect(cosineSimilarity([0, 0], [1, 1]) == 0)
    }
}
