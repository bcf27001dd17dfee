import Foundation
import Safetensors
import TestSupport
import Testing

@testable import EmbeddingModel

/// sentence-transformers' ids and embeddings for the tiny MPNet, and transformers' relative position bucket of each
/// distance from `buckets.first` on (scripts/fixtures/make-tiny-mpnet.py).
private struct TinyMPNetExpectations: Decodable {
    struct Case: Decodable {
        let ids: [Int32]
        let embedding: [Float]
    }

    struct Buckets: Decodable {
        let first: Int
        let values: [Int]
    }

    let cases: [Case]
    let buckets: Buckets

    static let loaded = Result {
        try JSONDecoder().decode(
            TinyMPNetExpectations.self,
            from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("tiny-mpnet-expected.json"))))
    }
}

/// A copy of `directory` whose model.safetensors has every tensor name prefixed, as a checkpoint saved from a model
/// wrapping the encoder (`MPNetForMaskedLM`: `mpnet.`) has them.
private func copyWithPrefixedTensors(_ directory: String, prefix: String) throws -> String {
    let copy = try copyOfDirectory(directory)
    let url = URL(fileURLWithPath: (copy as NSString).appendingPathComponent("model.safetensors"))
    let bytes = try Data(contentsOf: url)
    let headerLength = Int(bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self).littleEndian })
    let header = try #require(
        try JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<8 + headerLength)) as? [String: Any])
    let renamed = Dictionary(
        uniqueKeysWithValues: header.map { ($0.key == "__metadata__" ? $0.key : prefix + $0.key, $0.value) })
    var json = try JSONSerialization.data(withJSONObject: renamed)
    // The data section keeps its 8-byte alignment, as safetensors pads its header with spaces.
    json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
    var output = withUnsafeBytes(of: UInt64(json.count).littleEndian) { Data($0) }
    output.append(json)
    output.append(bytes.subdata(in: 8 + headerLength..<bytes.count))
    try output.write(to: url)
    return copy
}

@Suite("MPNet on a tiny random model")
struct MPNetModelTests {
    @Test("relative position buckets equal transformers' for every distance in −300…300")
    func buckets() throws {
        let expected = try TinyMPNetExpectations.loaded.get().buckets
        #expect(expected.values.count == 601)
        for (offset, bucket) in expected.values.enumerated() {
            let distance = expected.first + offset
            #expect(BertEncoder.relativePositionBucket(distance) == bucket, "distance \(distance)")
        }
    }

    @Test("tiny MPNet (mean pooling, Normalize) agrees with sentence-transformers, each text alone and all packed")
    func embeddings() throws {
        let expected = try TinyMPNetExpectations.loaded.get()
        // Some sequences must reach distances past the buckets' 128, where the bias stops changing.
        #expect(expected.cases.count(where: { $0.ids.count > 128 }) >= 3)
        let embedder = try SentenceEmbedder(directory: Fixtures.path("tiny-mpnet"), pool: testPool)
        #expect(embedder.info.modelType == "mpnet")
        #expect(embedder.info.pooling == .mean)
        #expect(embedder.info.normalizes)
        #expect(embedder.info.maxSequenceLength == 200)
        #expect(embedder.info.typeVocabularySize == 1)
        let batched = try embedder.embed(expected.cases.map(\.ids))
        for (index, item) in expected.cases.enumerated() {
            let alone = try embedder.embed([item.ids])[0]
            for vector in [batched[index], alone] {
                let normalized = finalizeEmbedding(vector, dimensions: nil, normalize: true)
                #expect(cosine(normalized, item.embedding) >= 0.99999, "case \(index) (\(item.ids.count) tokens)")
                #expect(maxAbsDifference(normalized, item.embedding) < 1e-4, "case \(index) (\(item.ids.count) tokens)")
            }
        }
    }

    @Test("a checkpoint with every tensor under `mpnet.` gives the same vectors")
    func prefixedNames() throws {
        let expected = try TinyMPNetExpectations.loaded.get()
        let directory = try copyWithPrefixedTensors(Fixtures.path("tiny-mpnet"), prefix: "mpnet.")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let names = try SafetensorsFile(path: (directory as NSString).appendingPathComponent("model.safetensors"))
            .tensors.keys
        #expect(names.allSatisfy { $0.hasPrefix("mpnet.") })
        let embedder = try SentenceEmbedder(directory: directory, pool: testPool)
        let vectors = try embedder.embed(expected.cases.suffix(4).map(\.ids))
        for (vector, item) in zip(vectors, expected.cases.suffix(4)) {
            let normalized = finalizeEmbedding(vector, dimensions: nil, normalize: true)
            #expect(cosine(normalized, item.embedding) >= 0.99999)
        }
    }

    @Test("a bucket count other than transformers' 32 is refused, naming the field")
    func bucketCount() throws {
        let directory = try copyOfDirectory(Fixtures.path("tiny-mpnet"))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try editJSON(directory, "config.json") { $0["relative_attention_num_buckets"] = 64 }
        #expect(
            throws: ModelLoadError.unsupported(
                file: (directory as NSString).appendingPathComponent("config.json"),
                field: "relative_attention_num_buckets", value: "64", supported: "32")
        ) {
            _ = try SentenceEmbedder(directory: directory, pool: testPool)
        }
    }
}
