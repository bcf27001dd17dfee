import Foundation
import TestSupport
import Testing

@testable import Embeddings

@Suite("Loading a model")
struct LoadingTests {
    @Test("load(modelID:) takes a directory path too, on its own thread, with the options given")
    func loadByPath() async throws {
        let embedder = try await Embedder.load(
            modelID: Fixtures.tinyModel.path, options: .init(precision: .bfloat16, computeThreads: 1))
        #expect(embedder.computeThreads == 1)
        #expect(embedder.options.precision == .bfloat16)
        #expect(embedder.directory.path == Fixtures.tinyModel.standardizedFileURL.path)
        let vector = try await embedder.embed("the queen sat", prompt: .none)
        let reference = try await tinyEmbedder.get().embed("the queen sat", prompt: .none)
        #expect(cosineSimilarity(vector, reference) > 0.999)
    }

    @Test("a missing directory is modelNotFound, with the resolver's message")
    func missingDirectory() async {
        await #expect {
            try await Embedder.load(modelID: "/nonexistent/model")
        } throws: { error in
            guard case .modelNotFound(let id, let reason) = error as? EmbeddingsError else { return false }
            return id == "/nonexistent/model" && reason.contains("does not exist")
        }
    }

    @Test("offline, a Hub id missing from the cache is modelNotCached")
    func offlineNotCached() async throws {
        var hub = Embedder.Hub(environment: [:])
        hub.cacheDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("embeddings-empty-cache")
        hub.offline = true
        await #expect {
            try await Embedder.load(modelID: "google/embeddinggemma-300m", hub: hub)
        } throws: { error in
            guard case .modelNotCached(let id, let reason) = error as? EmbeddingsError else { return false }
            return id == "google/embeddinggemma-300m" && reason.contains("HF_HUB_OFFLINE")
        }
    }

    @Test("a directory that is not a model is invalidModel naming it")
    func notAModel() async {
        let directory = SharedFixtures.tests.appendingPathComponent("EmbeddingsTests")
        await #expect {
            try await Embedder.load(directory: directory)
        } throws: { error in
            guard case .invalidModel(let path, _) = error as? EmbeddingsError else { return false }
            return path == directory.path
        }
    }

    @Test("options below one thread or one batch token are refused before loading")
    func invalidOptions() {
        #expect(throws: EmbeddingsError.invalidOptions(reason: "computeThreads must be at least 1, got 0")) {
            try Embedder(directory: Fixtures.tinyModel, options: .init(computeThreads: 0))
        }
        #expect(throws: EmbeddingsError.invalidOptions(reason: "maxBatchTokens must be at least 1, got 0")) {
            try Embedder(directory: Fixtures.tinyModel, options: .init(maxBatchTokens: 0))
        }
    }

    @Test("every error says what went wrong in a sentence")
    func descriptions() {
        #expect(
            EmbeddingsError.unknownPrompt(name: "x", available: ["a", "b"]).description
                == "the model has no prompt named 'x'; its prompts are: a, b")
        #expect(
            EmbeddingsError.inputTooLong(index: 2, tokens: 3000, maxTokens: 2048).description
                == "input 2 has 3000 tokens; the model takes at most 2048 (truncation is disabled)")
        #expect(EmbeddingsError.modelNotFound(modelID: "m", reason: "why").description == "why")
    }
}
