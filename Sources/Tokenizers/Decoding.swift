import JSON

// Decoders (ids → text). Strings are handled as Unicode
// scalars, as Rust's `char`s are: Swift's `String` comparison is by grapheme and would miss "▁" before a combining mark.

/// The supported `decoder` components, each a HF `decode_chain` over token strings.
indirect enum Decoder: Sendable {
    case replace(pattern: [UInt32], content: [UInt32])
    case byteFallback
    case fuse
    case strip(content: UInt32, start: Int, stop: Int)
    case metaspace(replacement: UInt32, prependsSpace: Bool)
    case wordPiece(prefix: [UInt32], cleanup: Bool)
    case byteLevel
    case sequence([Decoder])

    init(json: JSONValue) throws {
        let type = json["type"]?.stringValue ?? "(no type)"
        switch type {
        case "Replace":
            guard let pattern = json["pattern"]?["String"]?.stringValue else {
                throw TokenizerError.unsupportedComponent(kind: "decoder", type: "Replace with a Regex pattern")
            }
            self = .replace(pattern: scalarsOf(pattern), content: scalarsOf(json["content"]?.stringValue ?? ""))
        case "ByteFallback":
            self = .byteFallback
        case "Fuse":
            self = .fuse
        case "Strip":
            guard let content = json["content"]?.stringValue, let scalar = content.unicodeScalars.first,
                content.unicodeScalars.count == 1
            else {
                throw TokenizerError.invalidTokenizer("Strip decoder content must be one character")
            }
            let start = json["start"]?.intValue ?? 0, stop = json["stop"]?.intValue ?? 0
            guard start >= 0, stop >= 0 else {
                throw TokenizerError.invalidTokenizer("Strip decoder start and stop must not be negative")
            }
            self = .strip(content: scalar.value, start: start, stop: stop)
        case "Metaspace":
            let replacement = scalarsOf(json["replacement"]?.stringValue ?? "\u{2581}")
            guard replacement.count == 1 else {
                throw TokenizerError.invalidTokenizer("Metaspace replacement must be one character")
            }
            let scheme =
                json["prepend_scheme"]?.stringValue
                ?? ((json["add_prefix_space"]?.boolValue ?? true) ? "always" : "never")
            self = .metaspace(replacement: replacement[0], prependsSpace: scheme != "never")
        case "WordPiece":
            let prefix = json["prefix"].flatMap { $0.isNull ? nil : $0 }
            guard prefix == nil || prefix?.stringValue != nil else {
                throw TokenizerError.invalidTokenizer("WordPiece decoder prefix must be a string")
            }
            self = .wordPiece(
                prefix: scalarsOf(prefix?.stringValue ?? "##"),
                cleanup: try optionalFlag(json, "cleanup", default: true, of: "WordPiece decoder"))
        case "ByteLevel":
            self = .byteLevel
        case "Sequence":
            self = .sequence(try (json["decoders"]?.arrayValue ?? []).map(Decoder.init(json:)))
        default:
            throw TokenizerError.unsupportedComponent(kind: "decoder", type: type)
        }
    }

    /// Each token as scalars in, the decoded pieces out.
    func decodeChain(_ tokens: [[UInt32]]) -> [[UInt32]] {
        switch self {
        case .replace(let pattern, let content):
            return tokens.map { replaceAll($0, pattern: pattern, content: content) }
        case .byteFallback:
            return byteFallback(tokens)
        case .fuse:
            return [tokens.flatMap { $0 }]
        case .strip(let content, let start, let stop):
            return tokens.map { token in
                var startCut = 0
                for i in 0..<min(start, token.count) {
                    guard token[i] == content else { break }
                    startCut = i + 1
                }
                var stopCut = token.count
                for i in 0..<min(stop, token.count) {
                    let index = token.count - i - 1
                    guard token[index] == content else { break }
                    stopCut = index
                }
                return startCut < stopCut ? Array(token[startCut..<stopCut]) : []
            }
        case .metaspace(let replacement, let prependsSpace):
            return tokens.enumerated().map { i, token in
                token.compactMap { scalar -> UInt32? in
                    guard scalar == replacement else { return scalar }
                    return i == 0 && prependsSpace ? nil : 0x20
                }
            }
        case .wordPiece(let prefix, let cleanup):
            // HF: tokens after the first lose a leading prefix or get a space; `cleanup` then undoes the spaces
            // BERT's tokenization put before punctuation and English contractions, token by token.
            return tokens.enumerated().map { i, token in
                var piece = token
                if i != 0 {
                    if piece.starts(with: prefix) {
                        piece.removeFirst(prefix.count)
                    } else {
                        piece.insert(0x20, at: 0)
                    }
                }
                guard cleanup else { return piece }
                for (pattern, content) in Decoder.wordPieceCleanup {
                    piece = replaceAll(piece, pattern: pattern, content: content)
                }
                return piece
            }
        case .byteLevel:
            return ByteLevel.decode(tokens)
        case .sequence(let decoders):
            return decoders.reduce(tokens) { $1.decodeChain($0) }
        }
    }

    /// HF `decoders::wordpiece::cleanup`, in its order.
    private static let wordPieceCleanup: [(pattern: [UInt32], content: [UInt32])] = [
        (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
        (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
    ].map { (scalarsOf($0.0), scalarsOf($0.1)) }

    private func replaceAll(_ token: [UInt32], pattern: [UInt32], content: [UInt32]) -> [UInt32] {
        guard !pattern.isEmpty, token.count >= pattern.count else { return token }
        var result: [UInt32] = []
        result.reserveCapacity(token.count)
        var i = 0
        while i < token.count {
            if i + pattern.count <= token.count && token[i..<(i + pattern.count)].elementsEqual(pattern) {
                result.append(contentsOf: content)
                i += pattern.count
            } else {
                result.append(token[i])
                i += 1
            }
        }
        return result
    }

    /// Runs of `<0xXX>` tokens become their UTF-8 text, or one U+FFFD per byte when the run is not valid UTF-8.
    private func byteFallback(_ tokens: [[UInt32]]) -> [[UInt32]] {
        var result: [[UInt32]] = []
        var pendingBytes: [UInt8] = []
        func flush() {
            guard !pendingBytes.isEmpty else { return }
            if let text = validUTF8Scalars(pendingBytes) {
                result.append(text)
            } else {
                result.append(contentsOf: repeatElement([0xFFFD], count: pendingBytes.count))
            }
            pendingBytes.removeAll()
        }
        for token in tokens {
            if let byte = byteTokenValue(token) {
                pendingBytes.append(byte)
            } else {
                flush()
                result.append(token)
            }
        }
        flush()
        return result
    }
}

/// The byte of a `<0xXX>` token (Rust `u8::from_str_radix` on the two characters, so lower case and `+F` pass too).
private func byteTokenValue(_ token: [UInt32]) -> UInt8? {
    guard token.count == 6, token[0] == 0x3C, token[1] == 0x30, token[2] == 0x78, token[5] == 0x3E else { return nil }
    func digit(_ c: UInt32) -> UInt32? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }
    if token[3] == 0x2B, let low = digit(token[4]) { return UInt8(low) }
    guard let high = digit(token[3]), let low = digit(token[4]) else { return nil }
    return UInt8(high << 4 | low)
}

/// The scalars of `bytes` if they are valid UTF-8.
func validUTF8Scalars(_ bytes: [UInt8]) -> [UInt32]? {
    var decoder = UTF8()
    var iterator = bytes.makeIterator()
    var scalars: [UInt32] = []
    while true {
        switch decoder.decode(&iterator) {
        case .scalarValue(let scalar): scalars.append(scalar.value)
        case .emptyInput: return scalars
        case .error: return nil
        }
    }
}

/// A token id from the file: an integer that fits the `Int32` ids are kept in, and not negative.
func tokenID(_ value: JSONValue, of owner: String) throws -> Int32 {
    guard let raw = value.intValue, let id = Int32(exactly: raw), id >= 0 else {
        let shown = value.intValue.map(String.init) ?? "\(value)"
        throw TokenizerError.invalidTokenizer("\(owner) has id \(shown), outside 0...\(Int32.max)")
    }
    return id
}
