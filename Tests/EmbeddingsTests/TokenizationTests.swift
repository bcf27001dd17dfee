import Foundation
import Testing

@testable import Embeddings

private struct TokenizerCase: Decodable {
    let text: String
    let ids: [Int]
    let tokens: [String]
    let offsets: [[Int]]
}

@Suite("Tokenizing and truncation")
struct TokenizationTests {
    @Test("tokenize gives Hugging Face tokenizers' ids, tokens and offsets; decode gives the text back")
    func huggingFaceParity() throws {
        let embedder = try tinyEmbedder.get()
        let lines = try String(contentsOf: Fixtures.tokenizerCases, encoding: .utf8).split(separator: "\n")
        for line in lines {
            let reference = try JSONDecoder().decode(TokenizerCase.self, from: Data(line.utf8))
            let tokens = try embedder.tokenize(reference.text, prompt: .none)
            #expect(tokens.ids == reference.ids)
            #expect(tokens.tokens == reference.tokens)
            #expect(tokens.offsets == reference.offsets.map { $0[0]..<$0[1] })
            #expect(tokens.isSpecial.first == true && tokens.isSpecial.last == true)
            #expect(embedder.decode(tokens.ids) == reference.text)
        }
    }

    @Test("tokenize applies the prompt as embed does, and can leave the special tokens out")
    func promptAndSpecials() throws {
        let embedder = try tinyEmbedder.get()
        let prompted = try embedder.tokenize("the end")
        let manual = try embedder.tokenize("task: search result | query: the end", prompt: .none)
        #expect(prompted == manual)
        #expect(prompted.ids.count == 31)
        let bare = try embedder.tokenize("the end", prompt: .none, addSpecialTokens: false)
        #expect(bare.ids == Array(try embedder.tokenize("the end", prompt: .none).ids.dropFirst().dropLast()))
        #expect(!bare.isSpecial.contains(true))
    }

    @Test("a long text is cut to the model's limit from the right or the left, or refused when truncation is off")
    func truncation() async throws {
        let embedder = try tinyEmbedder.get()
        let limit = embedder.info.maxSequenceLength
        let long = (0..<limit).map { "word\($0)" }.joined(separator: " ")
        let whole = try embedder.tokenize(long, prompt: .none, truncation: .disabled)
        #expect(whole.ids.count > limit)
        let right = try embedder.tokenize(long, prompt: .none, truncation: .right)
        let left = try embedder.tokenize(long, prompt: .none, truncation: .left)
        #expect(right.ids.count == limit && left.ids.count == limit)
        #expect(right.ids.dropLast().elementsEqual(whole.ids.prefix(limit - 1)))
        #expect(left.ids.dropFirst().elementsEqual(whole.ids.suffix(limit - 1)))
        let vectors = try await embedder.embed(["short", long], prompt: .none, truncation: .left)
        let alone = try await embedder.embed(long, prompt: .none, truncation: .left)
        #expect(cosineSimilarity(vectors[1], alone) > 0.999999)
        await #expect(
            throws: EmbeddingsError.inputTooLong(index: 1, tokens: whole.ids.count, maxTokens: limit)
        ) {
            try await embedder.embed(["short", long], prompt: .none, truncation: .disabled)
        }
    }
}
