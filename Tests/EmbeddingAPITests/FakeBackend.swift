import EmbeddingModel
import Foundation
import HTTPServer
import Synchronization
import TestSupport

import struct Tokenizers.Encoding

@testable import EmbeddingAPI

/// A transparent stand-in model for testing the API logic alone: one token per Unicode scalar (id = scalar value),
/// `<bos>` = 2 and `<eos>` = 1 around it, and an 8-dimensional "embedding" computed from the ids, so every
/// expected value in these tests can be worked out by hand.
enum FakeModel {
    static let dimensions = 8
    static let hiddenSize = 3
    static let vocabularySize = 70_000
    static let prompts = ["query": "q: ", "document": "d: "]

    static func description(maxInputLength: Int = 16) -> ModelDescription {
        ModelDescription(
            modelID: "fake/model", kernels: "fake-kernels", maxInputLength: maxInputLength,
            embeddingDimensions: dimensions, hiddenSize: hiddenSize, vocabularySize: vocabularySize, prompts: prompts)
    }

    static func tokenize(_ text: String, special: Bool, maxLength: Int?, direction: TruncationDirection) -> Encoding {
        var ids: [Int32] = []
        var tokens: [String] = []
        var offsets: [Range<Int>] = []
        var mask: [Bool] = []
        if special { ids.append(2); tokens.append("<bos>"); offsets.append(0..<0); mask.append(true) }
        for (index, scalar) in text.unicodeScalars.enumerated() {
            ids.append(Int32(scalar.value))
            tokens.append(String(scalar))
            offsets.append(index..<index + 1)
            mask.append(false)
        }
        if special { ids.append(1); tokens.append("<eos>"); offsets.append(0..<0); mask.append(true) }
        if let maxLength, ids.count > maxLength {
            // Keep the special tokens, cut the content from the chosen side.
            let content = special ? 1..<ids.count - 1 : 0..<ids.count
            let keep = maxLength - (special ? 2 : 0)
            let kept =
                direction == .right
                ? content.lowerBound..<content.lowerBound + keep : content.upperBound - keep..<content.upperBound
            let indices = (special ? [0] : []) + Array(kept) + (special ? [ids.count - 1] : [])
            return Encoding(
                ids: indices.map { ids[$0] }, tokens: indices.map { tokens[$0] }, offsets: indices.map { offsets[$0] },
                specialTokensMask: indices.map { mask[$0] })
        }
        return Encoding(ids: ids, tokens: tokens, offsets: offsets, specialTokensMask: mask)
    }

    /// An un-normalized vector that depends on every id and on their order.
    static func embed(_ ids: [Int32]) -> [Float] {
        var vector = [Float](repeating: 0, count: dimensions)
        for (position, id) in ids.enumerated() {
            vector[position % dimensions] += Float(id % 97) + 1
            vector[(Int(id) + position) % dimensions] += 0.5
        }
        return vector
    }

    /// What the service makes of a raw vector: the library's cut and normalization.
    static func finalize(_ raw: [Float], _ dimensions: Int?, _ normalize: Bool) -> [Float] {
        finalizeEmbedding(raw, dimensions: dimensions, normalize: normalize)
    }

    static func backend(embedGate: DispatchSemaphore? = nil, failing: Bool = false) -> FakeBackend {
        FakeBackend(embedGate: embedGate, failing: failing)
    }
}

/// The fake model as the API's backend, with hooks that tests use to watch or hold its calls.
struct FakeBackend: EmbeddingBackend {
    /// Waited on by every encoder call, so a test can hold the encoder thread.
    var embedGate: DispatchSemaphore?
    /// Makes `embed` throw, as a broken model would.
    var failing = false
    /// Sees each batch `embed` receives.
    var onEmbed: (@Sendable ([[Int32]]) -> Void)?
    /// Sees each `tokenize` call.
    var onTokenize: (@Sendable () -> Void)?

    func tokenize(_ text: String, addSpecialTokens: Bool, maxLength: Int?, direction: TruncationDirection)
        -> Encoding
    {
        onTokenize?()
        return FakeModel.tokenize(text, special: addSpecialTokens, maxLength: maxLength, direction: direction)
    }

    func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String {
        var text = ""
        for id in ids {
            if skipSpecialTokens && (id == 1 || id == 2) { continue }
            text.unicodeScalars.append(Unicode.Scalar(UInt32(id)) ?? "?")
        }
        return text
    }

    func embed(_ sequences: [[Int32]], betweenLayers: () -> Void) throws -> [[Float]] {
        embedGate?.wait()
        onEmbed?(sequences)
        if failing { throw FakeFailure.encoderFailed }
        return sequences.map(FakeModel.embed)
    }

    func tokenEmbeddings(_ sequences: [[Int32]], betweenLayers: () -> Void) -> [[Float]] {
        embedGate?.wait()
        return sequences.map { ids in ids.flatMap { [Float($0), Float($0) * 2, -1] } }
    }
}

enum FakeFailure: Error { case encoderFailed }

/// A router over the fake model plus helpers to call it like an HTTP client would.
struct FakeServer {
    let router: APIRouter

    init(
        configuration: APIConfiguration = APIConfiguration(), maxInputLength: Int = 16,
        backend: any EmbeddingBackend = FakeModel.backend()
    ) throws {
        let service = try EmbeddingService(
            model: FakeModel.description(maxInputLength: maxInputLength), configuration: configuration,
            backend: backend)
        router = APIRouter(service: service)
    }

    func post(_ path: String, _ json: String, headers: [(String, String)] = []) async -> HTTPResponse {
        var fields = HTTPHeaders([("Content-Type", "application/json")])
        for (name, value) in headers { fields.replaceOrAdd(name: name, value: value) }
        return await router.handle(HTTPRequest(method: "POST", path: path, headers: fields, body: Array(json.utf8)))
    }

    func get(_ path: String, headers: [(String, String)] = []) async -> HTTPResponse {
        await router.handle(HTTPRequest(method: "GET", path: path, headers: HTTPHeaders(headers)))
    }
}

extension HTTPResponse {
    var text: String { String(decoding: body, as: UTF8.self) }

    var json: Any? { try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]) }

    /// The body as `[[Float]]` (the `/embed` shape).
    var vectors: [[Float]] {
        ((json as? [[Any]]) ?? []).map { $0.map { Float(($0 as? NSNumber)?.doubleValue ?? .nan) } }
    }

    /// `error` and `error_type` of a TEI error body.
    var teiError: (message: String, type: String)? {
        guard let object = json as? [String: Any], let message = object["error"] as? String,
            let type = object["error_type"] as? String
        else { return nil }
        return (message, type)
    }
}
