import Testing

@testable import EmbeddingModel

@Suite("Dense head folding")
struct DenseFoldingTests {
    /// Deterministic values in [-1, 1).
    private func values(_ count: Int, seed: Int) -> [Float] {
        var state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int(state >> 40) % 2000 - 1000) / 1000
        }
    }

    private func layer(_ outFeatures: Int, _ inFeatures: Int, bias: Bool, seed: Int) -> DenseParameters {
        DenseParameters(
            weights: values(outFeatures * inFeatures, seed: seed),
            bias: bias ? values(outFeatures, seed: seed + 1) : nil,
            outFeatures: outFeatures, inFeatures: inFeatures)
    }

    /// y = W·x + b for each layer in turn, in Double.
    private func apply(_ layers: [DenseParameters], to x: [Float]) -> [Double] {
        var vector = x.map(Double.init)
        for layer in layers {
            vector = (0..<layer.outFeatures).map { row in
                (0..<layer.inFeatures).reduce(Double(layer.bias?[row] ?? 0)) {
                    $0 + Double(layer.weights[row * layer.inFeatures + $1]) * vector[$1]
                }
            }
        }
        return vector
    }

    @Test("a widening then narrowing chain with biases folds into one layer computing the same map")
    func foldsChain() {
        let chain = [
            layer(40, 12, bias: true, seed: 1), layer(12, 40, bias: true, seed: 3), layer(12, 12, bias: false, seed: 5),
        ]
        let folded = foldDenseLayers(chain, pool: testPool)
        #expect(folded.count == 1)
        #expect(folded[0].outFeatures == 12 && folded[0].inFeatures == 12 && folded[0].bias != nil)
        for seed in 0..<3 {
            let x = values(12, seed: 100 + seed)
            let expected = apply(chain, to: x), actual = apply(folded, to: x)
            let scale = expected.map(abs).max()!
            let error = zip(expected, actual).map { abs($0 - $1) }.max()!
            #expect(error <= 1e-5 * scale, "input \(seed): error \(error) on values up to \(scale)")
        }
    }

    @Test("layers whose product would cost more stay apart")
    func keepsCheaperChain() {
        let chain = [layer(2, 30, bias: false, seed: 7), layer(30, 2, bias: true, seed: 9)]
        let folded = foldDenseLayers(chain, pool: testPool)
        #expect(folded.count == 2)
        #expect(folded.map(\.weights) == chain.map(\.weights))
    }
}
