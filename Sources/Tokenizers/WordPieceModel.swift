import JSON

// The WordPiece model of tokenizer.json (BERT): each word is cut greedily into the longest vocab entries from the
// left, pieces after the first looked up with the `##` prefix; a word with an uncuttable rest, or longer than
// `max_input_chars_per_word`, is one `[UNK]` (HF `WordPiece::tokenize`).

/// Buffers reused across the words of one `encode` call.
struct WordPieceScratch {
    /// The word's UTF-8 bytes.
    var bytes: [UInt8] = []
    /// Byte offset in `bytes` where each scalar ends.
    var scalarEnds: [Int32] = []
    /// The continuation prefix followed by the rest of the word, for the lookups after the first piece.
    var key: [UInt8] = []
}

struct WordPieceModel: Sendable {
    /// The largest `max_input_chars_per_word` accepted. A word up to this long costs up to its length times the
    /// longest token's length in lookups; BERT's files say 100, and at 10,000 a pathological word of 10,000
    /// scalars against a vocab with a 10,000-byte token would be 10^8 lookups.
    static let maxInputCharsLimit = 10_000

    let vocab: TokenTable
    /// Token text by id (every id below `vocab.count` has one: ids are checked to be a permutation).
    let tokenStrings: [String?]
    let unknownID: Int32
    let continuingSubwordPrefix: [UInt8]
    let maxInputCharsPerWord: Int
    /// Bytes of the longest vocab entry: no longer piece can match, which bounds the lookups per position.
    let longestTokenBytes: Int

    /// The model from its streamed vocab and the other members of the `model` object.
    init(vocab: TokenTable, settings: [String: JSONValue]) throws {
        self.vocab = vocab
        var strings = [String?](repeating: nil, count: vocab.count)
        var longest = 0
        for entry in 0..<vocab.count {
            let id = vocab.entryIDs[entry]
            guard id >= 0, Int(id) < vocab.count else {
                throw TokenizerError.invalidTokenizer(
                    "WordPiece vocab id \(id) is outside 0..<\(vocab.count), the vocab's size")
            }
            let bytes = vocab.entryBytes(entry)
            let text = String(decoding: bytes, as: UTF8.self)
            if let other = strings[Int(id)] {
                throw TokenizerError.invalidTokenizer(
                    "WordPiece vocab gives id \(id) to both \"\(other)\" and \"\(text)\"")
            }
            strings[Int(id)] = text
            longest = max(longest, bytes.count)
        }
        tokenStrings = strings
        longestTokenBytes = longest

        guard let unknown = settings["unk_token"]?.stringValue else {
            throw TokenizerError.invalidTokenizer("WordPiece model has no unk_token")
        }
        guard let unknownID = vocab.lookup(Array(unknown.utf8)) else {
            throw TokenizerError.invalidTokenizer("WordPiece unk_token \"\(unknown)\" is not in the vocab")
        }
        self.unknownID = unknownID
        let prefix = settings["continuing_subword_prefix"].flatMap { $0.isNull ? nil : $0 }
        guard prefix == nil || prefix?.stringValue != nil else {
            throw TokenizerError.invalidTokenizer("WordPiece continuing_subword_prefix must be a string")
        }
        continuingSubwordPrefix = Array((prefix?.stringValue ?? "##").utf8)
        let maxChars = settings["max_input_chars_per_word"].flatMap { $0.isNull ? nil : $0 }
        if let maxChars {
            guard let value = maxChars.intValue, value >= 0, value <= WordPieceModel.maxInputCharsLimit else {
                throw TokenizerError.invalidTokenizer(
                    "WordPiece max_input_chars_per_word \(maxChars) is outside 0...\(WordPieceModel.maxInputCharsLimit)"
                )
            }
            maxInputCharsPerWord = value
        } else {
            maxInputCharsPerWord = 100
        }
    }

    /// Appends the tokens of one word (`scalars`) to `output`, spans relative to the word.
    func tokenize(
        _ scalars: UnsafeBufferPointer<UInt32>, into output: inout PieceTokens, scratch: inout WordPieceScratch
    ) {
        let n = scalars.count
        guard n > 0 else { return }
        if n > maxInputCharsPerWord {
            output.append(unknownID, 0, Int32(n))
            return
        }
        scratch.bytes.removeAll(keepingCapacity: true)
        scratch.scalarEnds.removeAll(keepingCapacity: true)
        for scalar in scalars {
            appendUTF8(Unicode.Scalar(scalar) ?? "\u{FFFD}", to: &scratch.bytes)
            scratch.scalarEnds.append(Int32(scratch.bytes.count))
        }
        let firstToken = output.ids.count
        let prefixLength = continuingSubwordPrefix.count
        let found = vocab.withLookup { lookup -> Bool in
            var start = 0
            while start < n {
                let startByte = start == 0 ? 0 : Int(scratch.scalarEnds[start - 1])
                let keyOffset: Int
                if start == 0 {
                    scratch.key.removeAll(keepingCapacity: true)
                    scratch.key.append(contentsOf: scratch.bytes)
                    keyOffset = 0
                } else {
                    scratch.key.removeAll(keepingCapacity: true)
                    scratch.key.append(contentsOf: continuingSubwordPrefix)
                    scratch.key.append(contentsOf: scratch.bytes[startByte...])
                    keyOffset = prefixLength - startByte
                }
                var end = n
                var match: Int32?
                scratch.key.withUnsafeBufferPointer { key in
                    while end > start {
                        let length = Int(scratch.scalarEnds[end - 1]) + keyOffset
                        if length <= longestTokenBytes,
                            let id = lookup.id(UnsafeBufferPointer(rebasing: key[0..<length]))
                        {
                            match = id
                            return
                        }
                        end -= 1
                    }
                }
                guard let match else { return false }
                output.append(match, Int32(start), Int32(end))
                start = end
            }
            return true
        }
        if !found {
            output.ids.removeSubrange(firstToken...)
            output.starts.removeSubrange(firstToken...)
            output.ends.removeSubrange(firstToken...)
            output.append(unknownID, 0, Int32(n))
        }
    }
}
