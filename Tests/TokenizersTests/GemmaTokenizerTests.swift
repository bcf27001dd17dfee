import Foundation
import Testing

@testable import Tokenizers

/// Named facts about EmbeddingGemma's real tokenizer (gemma3-spec.md §5), on top of the parity corpora.
@Suite("EmbeddingGemma tokenizer facts")
struct GemmaTokenizerTests {
    @Test("32 spaces then x merges as HF's heap does ([▁×31, ▁x]), not as the textbook loop would")
    func mergeOrderTrap() throws {
        let tokenizer = try RealModel.tokenizer.get()
        #expect(tokenizer.encode(String(repeating: " ", count: 32) + "x").ids == [2, 167, 1123, 1])
    }

    @Test("the vocab has 262,144 tokens and <image_soft_token> (262144) lies outside it")
    func imageSoftToken() throws {
        let tokenizer = try RealModel.tokenizer.get()
        #expect(tokenizer.vocabularySize == 262_144)
        let encoding = tokenizer.encode("a <image_soft_token> b")
        #expect(encoding.ids.contains(262_144))
        #expect(tokenizer.firstIDOutsideVocabulary(encoding.ids) == 262_144)
        #expect(tokenizer.firstIDOutsideVocabulary(tokenizer.encode("plain text").ids) == nil)
        #expect(tokenizer.id(forToken: "<image_soft_token>") == 262_144)
        #expect(tokenizer.token(forID: 262_144) == "<image_soft_token>")
    }

    @Test("truncating to 2048 keeps the first 2046 content tokens, then <eos>; left keeps the last 2046")
    func truncation2048() throws {
        let tokenizer = try RealModel.tokenizer.get()
        let text = String(repeating: "hello world ", count: 1500)
        let full = tokenizer.encode(text)
        #expect(full.ids.count > 2048)
        let right = tokenizer.encode(text, maxLength: 2048, direction: .right)
        #expect(right.ids.count == 2048)
        #expect(right.ids == [2] + full.ids[1..<2047] + [1])
        let left = tokenizer.encode(text, maxLength: 2048, direction: .left)
        #expect(left.ids == [2] + full.ids[(full.ids.count - 2047)..<(full.ids.count - 1)] + [1])
        #expect(left.offsets.first == 0..<0 && left.offsets.last == 0..<0)
    }

    @Test("the prompt's trailing space merges into the text's first token (prompts are joined as strings)")
    func promptConcatenation() throws {
        let tokenizer = try RealModel.tokenizer.get()
        #expect(
            tokenizer.encode("title: none | text: The Eiffel Tower").ids
                == [2, 3250, 236787, 7293, 1109, 1816, 236787, 669, 94648, 25822, 1])
    }

    @Test("one tokenizer shared by several threads encodes exactly as it does serially")
    func concurrentEncoding() throws {
        let tokenizer = try RealModel.tokenizer.get()
        let texts = try Fixtures.jsonLines("golden-tokenizer.jsonl").map { $0["text"]!.stringValue! }
        let serial = texts.map { tokenizer.encode($0) }
        let threads = 4
        let matches = Counter()
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            if texts.map({ tokenizer.encode($0) }) == serial { matches.increment() }
        }
        #expect(matches.value == threads)
    }
}

/// A thread-safe count (NSLock rather than `Mutex`, which needs macOS 15).
private final class Counter: @unchecked Sendable {
    // @unchecked: `count` is only touched under `lock`.
    private let lock = NSLock()
    private var count = 0

    func increment() {
        lock.lock()
        count += 1
        lock.unlock()
    }

    var value: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }
}
