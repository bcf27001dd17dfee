import JSON

// The post-processor: special tokens and type ids around one sequence or a pair (HF `TemplateProcessing`,
// `BertProcessing`, `RobertaProcessing`), as templates of pieces.

/// The supported `post_processor` components, each reduced to a template for one sequence and one for a pair.
struct PostProcessor: Sendable {
    /// A template element: special tokens, or sequence 0 (A) or 1 (B), each with the type id its tokens get.
    enum Piece: Sendable {
        case special(ids: [Int32], tokens: [String], typeID: Int32)
        case sequence(index: Int, typeID: Int32)
    }

    let single: [Piece]
    let pair: [Piece]
    /// RobertaProcessing's `trim_offsets`: spaces at either end of a token are cut from its offsets.
    let trimsOffsets: Bool
    /// RobertaProcessing's `add_prefix_space`: a first token keeps its leading space in its offsets.
    let addsPrefixSpace: Bool

    /// Number of special tokens the template adds around one sequence (`pair: false`) or a pair.
    func addedTokenCount(pair isPair: Bool) -> Int {
        (isPair ? pair : single).reduce(0) { count, piece in
            if case .special(let ids, _, _) = piece { return count + ids.count }
            return count
        }
    }

    init(json: JSONValue) throws {
        let type = json["type"]?.stringValue ?? "(no type)"
        switch type {
        case "TemplateProcessing":
            // Checked as HF's deserializer and `TemplateProcessingBuilder::validate` check it, for the parts used
            // here: `special_tokens` is required and each has one token per id (an encoding holds both); every
            // special token a template names is defined; `single` is required. Each template also holds each of its
            // sequences exactly once, as HF requires of `pair`'s $A and $B but not of `single`'s $A: a template
            // without its $A would drop the text, one with two repeat it. Without `pair`, a pair is `$A:0 $B:1`
            // (the Python builder's default).
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
                pair = try PostProcessor.template(json, "pair", sequences: ["A", "B"], specials: specials)
            } else {
                pair = [.sequence(index: 0, typeID: 0), .sequence(index: 1, typeID: 1)]
            }
            trimsOffsets = false
            addsPrefixSpace = false
        case "BertProcessing", "RobertaProcessing":
            func special(_ key: String, typeID: Int32) throws -> Piece {
                guard let items = json[key]?.arrayValue, items.count == 2, let token = items[0].stringValue else {
                    throw TokenizerError.invalidTokenizer("\(type) needs \(key) as [token, id]")
                }
                return .special(ids: [try tokenID(items[1], of: "\(type) \(key)")], tokens: [token], typeID: typeID)
            }
            let isRoberta = type == "RobertaProcessing"
            let second: Int32 = isRoberta ? 0 : 1
            let a = Piece.sequence(index: 0, typeID: 0)
            let b = Piece.sequence(index: 1, typeID: second)
            single = [try special("cls", typeID: 0), a, try special("sep", typeID: 0)]
            // RoBERTa gives every token type 0, even the pair's.
            pair =
                isRoberta
                ? single + [try special("sep", typeID: 0), b, try special("sep", typeID: 0)]
                : single + [b, try special("sep", typeID: 1)]
            let trims = try optionalFlag(json, "trim_offsets", default: true, of: type)
            let prefixSpace = try optionalFlag(json, "add_prefix_space", default: true, of: type)
            trimsOffsets = isRoberta && trims
            addsPrefixSpace = isRoberta && prefixSpace
        case "ByteLevel":
            single = [.sequence(index: 0, typeID: 0)]
            pair = [.sequence(index: 0, typeID: 0), .sequence(index: 1, typeID: 1)]
            trimsOffsets = try optionalFlag(json, "trim_offsets", default: true, of: type)
            addsPrefixSpace = try optionalFlag(json, "add_prefix_space", default: true, of: type)
        default:
            throw TokenizerError.unsupportedComponent(kind: "post_processor", type: type)
        }
    }

    /// HF `byte_level::process_offsets` (RobertaProcessing with `trim_offsets`): leading and trailing spaces
    /// (`Ġ` or whitespace) of each token's text come off its offsets, except a first token's single leading one
    /// when `add_prefix_space` is set.
    func trimOffsets(_ content: inout ContentTokens) {
        guard trimsOffsets else { return }
        func isSpace(_ scalar: Unicode.Scalar) -> Bool { scalar == "\u{120}" || scalar.properties.isWhitespace }
        for i in content.tokens.indices {
            let scalars = content.tokens[i].unicodeScalars
            var leading = scalars.prefix(while: isSpace).count
            let trailing = scalars.reversed().prefix(while: isSpace).count
            guard leading > 0 || trailing > 0 else { continue }
            var range = content.offsets[i]
            if leading > 0 {
                // One leading space on the first token may be the one `add_prefix_space` put there: it stays.
                if (i == 0 || range.lowerBound == 0) && addsPrefixSpace && leading == 1 { leading = 0 }
                range = min(range.lowerBound + leading, range.upperBound)..<range.upperBound
            }
            if trailing > 0 && range.upperBound >= trailing {
                range = range.lowerBound..<max(range.upperBound - trailing, range.lowerBound)
            }
            content.offsets[i] = range
        }
    }
}

extension PostProcessor {
    typealias SpecialTokens = (ids: [Int32], tokens: [String])

    /// The `key` template of a TemplateProcessing: its special tokens (from `specials`, which must define each) and
    /// sequences, with their type ids. It must hold each of `sequences` exactly once, and no other.
    fileprivate static func template(
        _ json: JSONValue, _ key: String, sequences: [String],
        specials: [String: SpecialTokens]
    ) throws -> [Piece] {
        let names = sequences.map { "$" + $0 }
        guard let value = json[key] else {
            throw TokenizerError.invalidTokenizer("TemplateProcessing has no \"\(key)\" template")
        }
        guard let elements = value.arrayValue else {
            throw TokenizerError.invalidTokenizer("TemplateProcessing's \"\(key)\" template is not an array of pieces")
        }
        var counts = [Int](repeating: 0, count: sequences.count)
        let pieces = try elements.map { element -> Piece in
            if let special = element["SpecialToken"] {
                guard let name = special["id"]?.stringValue else {
                    throw TokenizerError.invalidTokenizer("a \"\(key)\" template special token has no id")
                }
                guard let tokens = specials[name] else {
                    throw TokenizerError.invalidTokenizer("template special token \"\(name)\" is not in special_tokens")
                }
                return .special(ids: tokens.ids, tokens: tokens.tokens, typeID: try typeID(special, in: key))
            }
            guard let sequence = element["Sequence"], let id = sequence["id"]?.stringValue,
                let index = sequences.firstIndex(of: id)
            else {
                let allowed = names.joined(separator: ", ")
                throw TokenizerError.invalidTokenizer(
                    "TemplateProcessing's \"\(key)\" template has a piece other than \(allowed) or a special token")
            }
            counts[index] += 1
            return .sequence(index: index, typeID: try typeID(sequence, in: key))
        }
        for (name, count) in zip(names, counts) where count != 1 {
            throw TokenizerError.invalidTokenizer(
                "TemplateProcessing's \"\(key)\" template has \(count) \(name) sequences; it needs exactly one "
                    + names.joined(separator: " and one "))
        }
        return pieces
    }

    /// A piece's `type_id` (0 when absent), which must fit the `Int32` type ids are kept in.
    private static func typeID(_ piece: JSONValue, in key: String) throws -> Int32 {
        guard let value = piece["type_id"], !value.isNull else { return 0 }
        guard let raw = value.intValue, let id = Int32(exactly: raw), id >= 0 else {
            throw TokenizerError.invalidTokenizer(
                "a \"\(key)\" template piece has type_id \(value), outside 0...\(Int32.max)")
        }
        return id
    }
}

/// A boolean member that must be a boolean when present.
func optionalFlag(_ json: JSONValue, _ key: String, default value: Bool, of type: String) throws -> Bool {
    guard let member = json[key], !member.isNull else { return value }
    guard let flag = member.boolValue else {
        throw TokenizerError.invalidTokenizer("\(type) \(key) must be true or false")
    }
    return flag
}
