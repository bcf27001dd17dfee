// Decoders (ids → text) and the post-processor (special tokens around the content). Strings are handled as Unicode
// scalars, as Rust's `char`s are: Swift's `String` comparison is by grapheme and would miss "▁" before a combining mark.

/// The supported `decoder` components, each a HF `decode_chain` over token strings.
indirect enum Decoder: Sendable {
    case replace(pattern: [UInt32], content: [UInt32])
    case byteFallback
    case fuse
    case strip(content: UInt32, start: Int, stop: Int)
    case metaspace(replacement: UInt32, prependsSpace: Bool)
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
        case .sequence(let decoders):
            return decoders.reduce(tokens) { $1.decodeChain($0) }
        }
    }

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
private func validUTF8Scalars(_ bytes: [UInt8]) -> [UInt32]? {
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

/// The supported `post_processor` components, reduced to the template for a single sequence.
struct PostProcessor: Sendable {
    /// A template element: special tokens, or the sequence itself (nil).
    let single: [SpecialTokens?]

    /// Number of special tokens the template adds around one sequence.
    var addedTokenCount: Int { single.reduce(0) { $0 + ($1?.ids.count ?? 0) } }

    init(json: JSONValue) throws {
        let type = json["type"]?.stringValue ?? "(no type)"
        switch type {
        case "TemplateProcessing":
            // Checked as HF's deserializer and `TemplateProcessingBuilder::validate` check it, for the parts used
            // here: `special_tokens` is required and each has one token per id (an encoding holds both); every
            // special token a template names is defined; `single` is required, `pair` optional (only `single` is
            // applied). Each template also holds each of its sequences exactly once, as HF requires of `pair`'s $A
            // and $B but not of `single`'s $A: a template without its $A would drop the text, one with two repeat it.
            guard case .object(let members)? = json["special_tokens"] else {
                throw TokenizerError.invalidTokenizer("TemplateProcessing has no \"special_tokens\" object")
            }
            var specials: [String: SpecialTokens] = [:]
            for (name, value) in members {
                let owner = "template special token \"\(name)\""
                guard let idValues = value["ids"]?.arrayValue else {
                    throw TokenizerError.invalidTokenizer("\(owner) has no \"ids\" array")
                }
                guard let tokenValues = value["tokens"]?.arrayValue else {
                    throw TokenizerError.invalidTokenizer("\(owner) has no \"tokens\" array")
                }
                let ids = try idValues.map { try tokenID($0, of: owner) }
                let tokens = try tokenValues.map { value in
                    guard let token = value.stringValue else {
                        throw TokenizerError.invalidTokenizer("\(owner) has a token that is not a string: \(value)")
                    }
                    return token
                }
                guard ids.count == tokens.count else {
                    throw TokenizerError.invalidTokenizer(
                        "\(owner) has \(ids.count) ids and \(tokens.count) tokens; it needs one token per id")
                }
                specials[name] = (ids, tokens)
            }
            single = try PostProcessor.template(json, "single", sequences: ["A"], specials: specials)
            if json["pair"] != nil {
                _ = try PostProcessor.template(json, "pair", sequences: ["A", "B"], specials: specials)
            }
        case "BertProcessing":
            func pair(_ key: String) throws -> (ids: [Int32], tokens: [String]) {
                guard let items = json[key]?.arrayValue, items.count == 2, let token = items[0].stringValue else {
                    throw TokenizerError.invalidTokenizer("BertProcessing needs \(key) as [token, id]")
                }
                return ([try tokenID(items[1], of: "BertProcessing \(key)")], [token])
            }
            single = [try pair("cls"), nil, try pair("sep")]
        default:
            throw TokenizerError.unsupportedComponent(kind: "post_processor", type: type)
        }
    }
}

extension PostProcessor {
    typealias SpecialTokens = (ids: [Int32], tokens: [String])

    /// The `key` template of a TemplateProcessing: its special tokens (from `specials`, which must define each),
    /// and nil for each sequence piece. It must hold each of `sequences` exactly once, and no other.
    fileprivate static func template(
        _ json: JSONValue, _ key: String, sequences: [String],
        specials: [String: SpecialTokens]
    ) throws -> [SpecialTokens?] {
        let names = sequences.map { "$" + $0 }
        guard let value = json[key] else {
            throw TokenizerError.invalidTokenizer("TemplateProcessing has no \"\(key)\" template")
        }
        guard let elements = value.arrayValue else {
            throw TokenizerError.invalidTokenizer("TemplateProcessing's \"\(key)\" template is not an array of pieces")
        }
        var counts = [Int](repeating: 0, count: sequences.count)
        let pieces = try elements.map { element -> SpecialTokens? in
            if let name = element["SpecialToken"]?["id"]?.stringValue {
                guard let special = specials[name] else {
                    throw TokenizerError.invalidTokenizer("template special token \"\(name)\" is not in special_tokens")
                }
                return special
            }
            guard let id = element["Sequence"]?["id"]?.stringValue, let index = sequences.firstIndex(of: id) else {
                let allowed = names.joined(separator: ", ")
                throw TokenizerError.invalidTokenizer(
                    "TemplateProcessing's \"\(key)\" template has a piece other than \(allowed) or a special token")
            }
            counts[index] += 1
            return nil
        }
        for (name, count) in zip(names, counts) where count != 1 {
            throw TokenizerError.invalidTokenizer(
                "TemplateProcessing's \"\(key)\" template has \(count) \(name) sequences; it needs exactly one "
                    + names.joined(separator: " and one "))
        }
        return pieces
    }
}

/// A token id from the file: an integer that fits the `Int32` ids are kept in, and not negative.
private func tokenID(_ value: JSONValue, of owner: String) throws -> Int32 {
    guard let raw = value.intValue, let id = Int32(exactly: raw), id >= 0 else {
        let shown = value.intValue.map(String.init) ?? "\(value)"
        throw TokenizerError.invalidTokenizer("\(owner) has id \(shown), outside 0...\(Int32.max)")
    }
    return id
}
