import EmbeddingModel
import Testing

@Suite("Matryoshka cut and L2 normalisation")
struct FinalizeEmbeddingTests {
    let raw: [Float] = [3, 4, 12, 0]

    @Test("normalising divides by the L2 norm")
    func normalizes() {
        let expected: [Float] = [3.0 / 13, 4.0 / 13, 12.0 / 13, 0]
        let normalized = finalizeEmbedding(raw, dimensions: nil, normalize: true)
        #expect(zip(normalized, expected).allSatisfy { abs($0 - $1) <= 1e-7 })
    }

    @Test("without normalisation the raw values pass through")
    func passesThrough() {
        #expect(finalizeEmbedding(raw, dimensions: nil, normalize: false) == raw)
    }

    @Test("dimensions cut first, then the cut vector is normalised on its own")
    func cutThenNormalize() {
        #expect(finalizeEmbedding(raw, dimensions: 2, normalize: false) == [3, 4])
        let cut = finalizeEmbedding(raw, dimensions: 2, normalize: true)
        #expect(abs(cut[0] - 0.6) <= 1e-7 && abs(cut[1] - 0.8) <= 1e-7 && cut.count == 2)
        #expect(finalizeEmbedding(raw, dimensions: 4, normalize: false) == raw)
    }

    @Test("an all-zero vector stays zero instead of becoming NaN")
    func zeroVector() {
        #expect(finalizeEmbedding([0, 0, 0], dimensions: nil, normalize: true) == [0, 0, 0])
    }
}
