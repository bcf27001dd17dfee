import Foundation
import Synchronization
import TestSupport
import Testing

@testable import embed_server

/// Collects the lines a `ServerLog` writes.
private final class LogLines: Sendable {
    private let lines = Mutex<[String]>([])

    var log: ServerLog {
        var log = ServerLog(json: true)
        log.output = { [self] line in lines.withLock { $0.append(line) } }
        return log
    }

    /// Every JSON line whose message is `message`.
    func objects(_ message: String) throws -> [[String: String]] {
        try lines.withLock { $0 }.compactMap { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
            return object?["message"] == message ? object : nil
        }
    }
}

/// The tiny Gemma3 checkpoint the API tests serve (random weights, real architecture and tokenizer format).
private let tinyModelDirectory = SharedFixtures.tinyModel

@Suite("server start-up with the tiny model")
struct ServerRunnerTests {
    @Test("start-up loads the model, runs one warm-up forward pass and logs its duration with the compute threads")
    func warmUpIsLogged() async throws {
        var settings = ServeSettings(modelID: tinyModelDirectory)
        settings.computeThreads = 1
        settings.tokenizationWorkers = 1
        let lines = LogLines()
        let service = try await ServerRunner(settings: settings, log: lines.log).loadService()
        await service.shutdown()
        let loaded = try #require(try lines.objects("model loaded").first)
        #expect(loaded["compute_threads"] == "1")
        #expect(loaded["level"] == "INFO")
        // A forward pass of the tiny model can round to 0.00 ms; EmbeddingAPITests' WarmUpTests check that it runs.
        #expect(loaded["warmup_ms"].flatMap(Double.init) != nil)
        // The warm-up runs outside the request pipeline: neither a request nor a batch is counted.
        let metrics = service.metrics.render()
        #expect(!metrics.contains("te_request_count") && !metrics.contains("te_batch_next_size"))
    }

    @Test("--pooling must name the model's pooling: the tiny model is pooled by mean, so cls is refused")
    func poolingMustBeTheModels() async throws {
        var settings = ServeSettings(modelID: tinyModelDirectory)
        settings.computeThreads = 1
        settings.pooling = .cls
        let refusal = SettingsError(
            description:
                "--pooling cls: this model is pooled by mean (1_Pooling/config.json), the only pooling served here")
        await #expect(throws: refusal) { try await ServerRunner(settings: settings, log: LogLines().log).loadService() }
        settings.pooling = .mean
        let service = try await ServerRunner(settings: settings, log: LogLines().log).loadService()
        #expect(service.model.pooling == "mean")
        await service.shutdown()
    }

    @Test("a cross-encoder starts as a classifier with its labels; --pooling is ignored with a warning, as in TEI")
    func crossEncoder() async throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../EmbeddingModelTests/Fixtures/tiny-cross-roberta").standardizedFileURL.path
        var settings = ServeSettings(modelID: directory)
        settings.computeThreads = 1
        settings.pooling = .mean
        let lines = LogLines()
        let service = try await ServerRunner(settings: settings, log: lines.log).loadService()
        await service.shutdown()
        #expect(service.model.labels == ["contradiction", "entailment", "neutral"])
        #expect(try lines.objects("model loaded").first?["labels"] == "3")
        #expect(try lines.objects("--pooling mean ignored: the model is a classifier").count == 1)
    }
}
