import JSON

// Added tokens (`added_tokens` in tokenizer.json) are cut out of the text before the model sees it: leftmost-longest
// matching as HF's Aho-Corasick `LeftmostLongest`, then the lstrip / rstrip / single_word rules of HF `find_matches`.

/// One entry of `added_tokens`.
struct AddedToken: Sendable {
    let id: Int32
    let content: String
    let special: Bool
    let singleWord: Bool
    let lstrip: Bool
    let rstrip: Bool
    let normalized: Bool

    init(id: Int32, content: String, special: Bool, singleWord: Bool, lstrip: Bool, rstrip: Bool, normalized: Bool) {
        self.id = id
        self.content = content
        self.special = special
        self.singleWord = singleWord
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.normalized = normalized
    }

    init(json: JSONValue) throws {
        guard let rawID = json["id"]?.intValue, let content = json["content"]?.stringValue else {
            throw TokenizerError.invalidTokenizer("added token without id or content")
        }
        guard let id = Int32(exactly: rawID), id >= 0 else {
            throw TokenizerError.invalidTokenizer(
                "added token \"\(content)\" has id \(rawID), outside 0...\(Int32.max)")
        }
        self.id = id
        self.content = content
        special = json["special"]?.boolValue ?? false
        singleWord = json["single_word"]?.boolValue ?? false
        lstrip = json["lstrip"]?.boolValue ?? false
        rstrip = json["rstrip"]?.boolValue ?? false
        // HF's default for a missing `normalized` is `!special`.
        normalized = json["normalized"]?.boolValue ?? !special
    }
}

/// A cut of a piece of text: either an added token (index into the matcher's tokens) or text for the model.
struct AddedTokenSplit {
    var token: Int?
    var range: Range<Int>
}

/// A trie over Unicode scalars for one set of added tokens (the normalized or the non-normalized ones).
struct AddedTokenMatcher: Sendable {
    let tokens: [AddedToken]
    /// `node << 32 | scalar` → child node; node 0 is the root.
    private var children: [UInt64: Int32] = [:]
    /// Token index ending at each node, or -1.
    private var terminals: [Int32] = [-1]
    /// One bit per BMP scalar that starts some token; astral first scalars go in `astralFirstScalars`.
    private var firstScalarBits = [UInt64](repeating: 0, count: 1024)
    private var astralFirstScalars: Set<UInt32> = []

    var isEmpty: Bool { tokens.isEmpty }

    init(tokens: [AddedToken]) {
        self.tokens = tokens
        for (index, token) in tokens.enumerated() {
            let scalars = scalarsOf(token.content)
            guard let first = scalars.first else { continue }
            if first < 0x10000 {
                firstScalarBits[Int(first >> 6)] |= 1 << UInt64(first & 63)
            } else {
                astralFirstScalars.insert(first)
            }
            var node: Int32 = 0
            for scalar in scalars {
                let key = UInt64(UInt32(bitPattern: node)) << 32 | UInt64(scalar)
                if let child = children[key] {
                    node = child
                } else {
                    let child = Int32(terminals.count)
                    terminals.append(-1)
                    children[key] = child
                    node = child
                }
            }
            // Two entries with the same content: HF keeps the later one.
            terminals[Int(node)] = Int32(index)
        }
    }

    @inline(__always)
    private func mayStart(_ scalar: UInt32) -> Bool {
        if scalar < 0x10000 { return firstScalarBits[Int(scalar >> 6)] & (1 << UInt64(scalar & 63)) != 0 }
        return astralFirstScalars.contains(scalar)
    }

    /// The longest token starting at `start`, as (token index, end).
    private func longestMatch(in text: UnsafeBufferPointer<UInt32>, at start: Int) -> (Int, Int)? {
        var node: Int32 = 0
        var best: (Int, Int)?
        var i = start
        while i < text.count, let child = children[UInt64(UInt32(bitPattern: node)) << 32 | UInt64(text[i])] {
            node = child
            i += 1
            let terminal = terminals[Int(node)]
            if terminal >= 0 { best = (Int(terminal), i) }
        }
        return best
    }

    /// HF `AddedVocabulary::find_matches`: splits `text` into added tokens and the text between them.
    func split(_ text: UnsafeBufferPointer<UInt32>) -> [AddedTokenSplit] {
        guard !tokens.isEmpty else { return [AddedTokenSplit(token: nil, range: 0..<text.count)] }
        var splits: [AddedTokenSplit] = []
        var startOffset = 0
        var i = 0
        while i < text.count {
            guard mayStart(text[i]), let (index, matchEnd) = longestMatch(in: text, at: i) else {
                i += 1
                continue
            }
            let token = tokens[index]
            var start = i
            var stop = matchEnd
            i = matchEnd
            if token.singleWord {
                let startIsBoundary = start == 0 || !isWordScalar(text[start - 1])
                let stopIsBoundary = stop == text.count || !isWordScalar(text[stop])
                if !startIsBoundary || !stopIsBoundary { continue }
            }
            if token.lstrip {
                var newStart = start
                while newStart > 0 && isWhitespaceScalar(text[newStart - 1]) { newStart -= 1 }
                start = max(newStart, startOffset)
            }
            if token.rstrip {
                while stop < text.count && isWhitespaceScalar(text[stop]) { stop += 1 }
            }
            if startOffset < start { splits.append(AddedTokenSplit(token: nil, range: startOffset..<start)) }
            splits.append(AddedTokenSplit(token: index, range: start..<stop))
            startOffset = stop
        }
        if startOffset != text.count { splits.append(AddedTokenSplit(token: nil, range: startOffset..<text.count)) }
        return splits
    }
}

/// Rust regex `\w`: Alphabetic, marks, decimal digits, connector punctuation, join controls.
func isWordScalar(_ value: UInt32) -> Bool {
    guard let scalar = Unicode.Scalar(value) else { return false }
    if value < 0x80 {
        return (value >= 0x30 && value <= 0x39) || (value >= 0x41 && value <= 0x5A) || (value >= 0x61 && value <= 0x7A)
            || value == 0x5F
    }
    let properties = scalar.properties
    if properties.isAlphabetic || properties.isJoinControl { return true }
    switch properties.generalCategory {
    case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
    default: return false
    }
}

/// Rust regex `\s`: the Unicode White_Space property.
func isWhitespaceScalar(_ value: UInt32) -> Bool {
    guard let scalar = Unicode.Scalar(value) else { return false }
    return scalar.properties.isWhitespace
}
