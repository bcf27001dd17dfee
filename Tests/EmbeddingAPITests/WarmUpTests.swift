import Synchronization
import Testing

@testable import EmbeddingAPI

@Suite("start-up warm-up")
struct WarmUpTests {
    @Test("warm-up tokenizes a short text and runs it through the encoder once, outside the metrics")
    func oneForwardPass() async throws {
        let sequences = Mutex<[[Int32]]>([])
        var backend = FakeModel.backend()
        backend.onEmbed = { batch in sequences.withLock { $0 += batch } }
        let service = try EmbeddingService(
            model: FakeModel.description(), configuration: APIConfiguration(), backend: backend)
        let seconds = try service.warmUp()
        #expect(seconds > 0)
        let expected = [2] + "warm-up".unicodeScalars.map { Int32($0.value) } + [1]
        #expect(sequences.withLock { $0 } == [expected])
        #expect(service.metrics.render().isEmpty)
        await service.shutdown()
    }

    @Test("a failing encoder makes the warm-up throw, so the server does not start")
    func failureSurfaces() async throws {
        let service = try EmbeddingService(
            model: FakeModel.description(), configuration: APIConfiguration(), backend: FakeModel.backend(failing: true)
        )
        #expect(throws: FakeFailure.self) { try service.warmUp() }
        await service.shutdown()
    }
}
