import Foundation
import TestSupport
import Testing

@testable import EmbeddingModel

/// The batcher runs a short batch between two layers of a long one (preemption): through the same model, on the
/// same thread, from the long batch's `betweenLayers`. Neither batch may see the other's activations.
@Suite("A batch run between the layers of another")
struct NestedBatchTests {
    @Test(
        "gives both batches the outputs they give alone, for pooled vectors and token states",
        arguments: ["tiny-gemma", "tiny-bert", "tiny-mpnet"])
    func nestedRunsAreIsolated(model name: String) throws {
        let directory = name == "tiny-gemma" ? Fixtures.tinyModel : Fixtures.path(name)
        let embedder = try SentenceEmbedder(directory: directory, pool: testPool)
        let vocabulary = Int32(embedder.info.vocabularySize)
        let long = (3...30).map { length in (0..<length).map { Int32(($0 * 7 + length) % Int(vocabulary)) } }
        let short = [[Int32(2), 11, 5], [Int32(3), 4]]
        let longAlone = try embedder.embed(long)
        let shortAlone = try embedder.embed(short)
        let shortStatesAlone = try embedder.tokenEmbeddings(short)

        var boundaries = 0
        var nested: Result<([[Float]], [[Float]]), any Error>?
        let longNested = try embedder.embed(long) {
            boundaries += 1
            // At the first boundary: the long batch's buffers hold its state between two layers.
            if nested == nil {
                nested = Result { (try embedder.embed(short), try embedder.tokenEmbeddings(short)) }
            }
        }
        #expect(boundaries > 0, "the encoder called back between its layers")
        let (shortNested, shortStatesNested) = try #require(nested).get()
        // Compared whole: a failure would otherwise print every vector.
        let (longSame, shortSame) = (longNested == longAlone, shortNested == shortAlone)
        let statesSame = shortStatesNested == shortStatesAlone
        #expect(longSame && shortSame && statesSame, "long \(longSame), short \(shortSame), states \(statesSame)")

        // The same with token states outside.
        var statesNested: [[Float]]?
        let longStates = try embedder.tokenEmbeddings(long) {
            if statesNested == nil { statesNested = try? embedder.embed(short) }
        }
        let (statesLongSame, statesShortSame) = (
            longStates == (try embedder.tokenEmbeddings(long)), statesNested == shortAlone
        )
        #expect(statesLongSame && statesShortSame, "long \(statesLongSame), short \(statesShortSame)")
    }
}
