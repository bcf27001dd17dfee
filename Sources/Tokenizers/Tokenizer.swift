// The public tokenizer: loads tokenizer.json and runs HF's pipeline (added tokens → normalizer → pre-tokenizer →
// BPE → truncation → post-processor), with offsets in Unicode scalars of the original text.

/// The result of encoding one text.
public struct Encoding: Sendable, Equatable {
    /// Token ids, special tokens included when they were asked for.
    public var ids: [Int32]
    /// Token strings as in the vocab (`▁Hello`, `<0xE2>`, `<bos>`).
    public var tokens: [String]
    /// Unicode-scalar offsets into the original text (Python `str` indices); `0..<0` for template specials.
    public var offsets: [Range<Int>]
    /// True for the special tokens the post-processor added (`<bos>`, `<eos>`).
    public var specialTokensMask: [Bool]

    /// An encoding from its parts, all of the same length.
    public init(ids: [Int32], tokens: [String], offsets: [Range<Int>], specialTokensMask: [Bool]) {
        self.ids = ids
        self.tokens = tokens
        self.offsets = offsets
        self.specialTokensMask = specialTokensMask
    }
}

/// Which end of the content truncation removes tokens from: `.right` keeps the first tokens.
public enum TruncationDirection: String, Sendable {
    case right, left
}

/// A Hugging Face `tokenizer.json` tokenizer (BPE family) that reproduces the `tokenizers` library exactly.
///
/// Supported components: model `BPE` (byte fallback, `unk_token` with `fuse_unk`, `continuing_subword_prefix`,
/// `end_of_word_suffix`, `ignore_merges`; no dropout); normalizers `Replace` (string pattern), `Prepend`, `Sequence`;
/// pre-tokenizers `Split` (string pattern, every behaviour, `invert`), `Metaspace`, `Sequence`; post-processors
/// `TemplateProcessing` (single sequence) and `BertProcessing`; decoders `Replace`, `ByteFallback`, `Fuse`, `Strip`,
/// `Metaspace`, `Sequence`; added tokens with `lstrip`, `rstrip`, `single_word` and `normalized`. Anything else
/// (NFKC, ByteLevel, regex patterns, WordPiece, Unigram, …) fails to load with `TokenizerError.unsupportedComponent`.
///
/// Ids from `vocabularySize` up are added tokens with no row in the model's embedding table. For EmbeddingGemma that
/// is `<image_soft_token>` (262144): literal `"<image_soft_token>"` in a text encodes to it, so callers that embed
/// must reject any id `>= vocabularySize` (see `firstIDOutsideVocabulary(_:)`).
public final class Tokenizer: Sendable {
    let model: BPEModel
    let normalizer: Normalizer?
    let preTokenizer: PreTokenizer?
    let postProcessor: PostProcessor?
    let decoder: Decoder?
    let addedTokens: [AddedToken]
    /// Added tokens matched in the raw text (`normalized: false`).
    let rawMatcher: AddedTokenMatcher
    /// Added tokens matched after normalization (`normalized: true`).
    let normalizedMatcher: AddedTokenMatcher
    let addedTokenByID: [Int32: AddedToken]
    let addedTokenByContent: [String: AddedToken]
    /// Ids whose token text is the content of a special added token (HF skips these in `decode`).
    let specialIDs: Set<Int32>
    /// The file's `truncation`, applied by `encode(_:addSpecialTokens:)` as HF's `encode` does.
    let defaultTruncation: (maxLength: Int, direction: TruncationDirection)?
    /// Whether the vocab and merge tables came from the binary cache (for start-up logs).
    public let loadedFromCache: Bool
    /// Why a cache file that was there could not be used (stale, damaged, failed a check): the tables were built
    /// from tokenizer.json instead and the cache rewritten. For start-up logs; nil otherwise.
    public let cacheRebuildReason: String?

    /// Reads `directory/tokenizer.json`, with the table cache in the same directory.
    public convenience init(directory: String) throws {
        let path = directory.hasSuffix("/") ? directory + "tokenizer.json" : directory + "/tokenizer.json"
        try self.init(tokenizerJSONPath: path)
    }

    /// Reads a tokenizer.json file, with the table cache next to it.
    public convenience init(tokenizerJSONPath: String) throws {
        let directory =
            tokenizerJSONPath.contains("/") ? String(tokenizerJSONPath[..<tokenizerJSONPath.lastIndex(of: "/")!]) : "."
        try self.init(tokenizerJSONPath: tokenizerJSONPath, cacheDirectory: directory.isEmpty ? "/" : directory)
    }

    /// Reads a tokenizer.json file. With a `cacheDirectory`, the vocab and merge tables are read from a binary cache
    /// there when it matches the file's content hash and passes its checks, and written there otherwise; an
    /// unwritable directory means parsing the JSON, and a stale, damaged or failing cache also sets
    /// `cacheRebuildReason`. `nil` always parses.
    public init(tokenizerJSONPath: String, cacheDirectory: String?) throws {
        let bytes = try readWholeFile(tokenizerJSONPath)
        let contentHash = bytes.withUnsafeBufferPointer { TokenizerCache.contentHash($0) }
        let cachePath = cacheDirectory.map { TokenizerCache.path(for: tokenizerJSONPath, in: $0) }
        var cached: (vocab: TokenTable, merges: PairTable)?
        var rebuildReason: String?
        if let cachePath {
            TokenizerCache.removeTemporaryFiles(of: cachePath)
            switch TokenizerCache.load(path: cachePath, contentHash: contentHash) {
            case .loaded(let vocab, let merges): cached = (vocab, merges)
            case .absent: break
            case .rejected(let reason): rebuildReason = "\(cachePath): \(reason)"
            }
        }
        var model: BPEModel?
        var addedJSON: [JSONValue] = []
        var normalizerJSON = JSONValue.null
        var preTokenizerJSON = JSONValue.null
        var postProcessorJSON = JSONValue.null
        var decoderJSON = JSONValue.null
        var truncationJSON = JSONValue.null
        var paddingJSON = JSONValue.null
        try bytes.withUnsafeBufferPointer { buffer in
            var scanner = JSONScanner(bytes: buffer)
            try scanner.readObject { scanner, key in
                switch key {
                case "model": model = try BPEModel.load(from: &scanner, cached: cached)
                case "added_tokens": addedJSON = try scanner.readValue().arrayValue ?? []
                case "normalizer": normalizerJSON = try scanner.readValue()
                case "pre_tokenizer": preTokenizerJSON = try scanner.readValue()
                case "post_processor": postProcessorJSON = try scanner.readValue()
                case "decoder": decoderJSON = try scanner.readValue()
                case "truncation": truncationJSON = try scanner.readValue()
                case "padding": paddingJSON = try scanner.readValue()
                default: try scanner.skipValue()
                }
            }
        }
        guard let model else { throw TokenizerError.invalidTokenizer("no \"model\"") }
        self.model = model
        loadedFromCache = cached != nil
        cacheRebuildReason = rebuildReason
        let normalizer = normalizerJSON.isNull ? nil : try Normalizer(json: normalizerJSON)
        self.normalizer = normalizer
        preTokenizer = preTokenizerJSON.isNull ? nil : try PreTokenizer(json: preTokenizerJSON)
        postProcessor = postProcessorJSON.isNull ? nil : try PostProcessor(json: postProcessorJSON)
        decoder = decoderJSON.isNull ? nil : try Decoder(json: decoderJSON)
        defaultTruncation = try truncationSetting(truncationJSON)
        try checkPadding(paddingJSON)

        // HF re-derives an added token's id from the vocab when its content is there.
        let tokens = try addedJSON.map { json -> AddedToken in
            let token = try AddedToken(json: json)
            guard let vocabID = model.vocab.lookup(Array(token.content.utf8)), vocabID != token.id else { return token }
            return AddedToken(
                id: vocabID, content: token.content, special: token.special, singleWord: token.singleWord,
                lstrip: token.lstrip, rstrip: token.rstrip, normalized: token.normalized)
        }
        addedTokens = tokens
        rawMatcher = AddedTokenMatcher(tokens: tokens.filter { !$0.normalized })
        normalizedMatcher = AddedTokenMatcher(
            tokens: tokens.filter(\.normalized).map { token in
                guard let normalizer else { return token }
                return token.withContent(normalizer.normalize(token.content))
            })
        addedTokenByID = Dictionary(tokens.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
        addedTokenByContent = Dictionary(tokens.map { ($0.content, $0) }, uniquingKeysWith: { $1 })
        var specialIDs: Set<Int32> = []
        for token in tokens where token.special {
            specialIDs.insert(token.id)
            if let id = model.vocab.lookup(Array(token.content.utf8)) { specialIDs.insert(id) }
        }
        self.specialIDs = specialIDs
        // Only a file that loaded completely gets a cache.
        if cached == nil, let cachePath {
            TokenizerCache.store(path: cachePath, contentHash: contentHash, vocab: model.vocab, merges: model.merges)
        }
    }

    /// Number of tokens in the model's vocab; ids at or above it are added tokens outside the embedding table.
    public var vocabularySize: Int { model.vocab.count }

    /// The first id in `ids` that has no row in a `vocabularySize`-row embedding table, if any.
    public func firstIDOutsideVocabulary(_ ids: [Int32]) -> Int32? {
        ids.first { $0 < 0 || Int($0) >= vocabularySize }
    }

    /// The id of a token string (added tokens first, then the vocab).
    public func id(forToken token: String) -> Int32? {
        if let added = addedTokenByContent[token], added.content.utf8.elementsEqual(token.utf8) { return added.id }
        return model.vocab.lookup(Array(token.utf8))
    }

    /// The token string of an id (added tokens first, then the vocab).
    public func token(forID id: Int32) -> String? {
        if let added = addedTokenByID[id] { return added.content }
        guard id >= 0, Int(id) < model.tokenStrings.count else { return nil }
        return model.tokenStrings[Int(id)]
    }

    /// Encodes one text with HF's pipeline; `addSpecialTokens` wraps it in the post-processor's template. A
    /// `truncation` set in tokenizer.json applies here, as in HF's `encode`.
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> Encoding {
        encode(
            text, addSpecialTokens: addSpecialTokens, maxLength: defaultTruncation?.maxLength,
            direction: defaultTruncation?.direction ?? .right)
    }

    /// Encodes and truncates to `maxLength` tokens in total (nil: no limit, whatever tokenizer.json says), keeping
    /// the template's special tokens (for Gemma,
    /// `maxLength` 2048 keeps the first 2046 content tokens, then `<eos>`). A `maxLength` below the number of
    /// template specials keeps no content, only the specials (HF's Rust code underflows there and keeps everything).
    public func encode(_ text: String, addSpecialTokens: Bool = true, maxLength: Int?, direction: TruncationDirection)
        -> Encoding
    {
        var content = encodeContent(text)
        let template = addSpecialTokens ? postProcessor : nil
        if let maxLength {
            let limit = max(0, maxLength - (template?.addedTokenCount ?? 0))
            if content.ids.count > limit { content.truncate(to: limit, direction: direction) }
        }
        guard let template else {
            return Encoding(
                ids: content.ids, tokens: content.tokens, offsets: content.offsets,
                specialTokensMask: Array(repeating: false, count: content.ids.count))
        }
        var result = Encoding(ids: [], tokens: [], offsets: [], specialTokensMask: [])
        let total = content.ids.count + template.addedTokenCount
        result.ids.reserveCapacity(total)
        result.tokens.reserveCapacity(total)
        result.offsets.reserveCapacity(total)
        result.specialTokensMask.reserveCapacity(total)
        for element in template.single {
            if let special = element {
                result.ids.append(contentsOf: special.ids)
                result.tokens.append(contentsOf: special.tokens)
                result.offsets.append(contentsOf: repeatElement(0..<0, count: special.ids.count))
                result.specialTokensMask.append(contentsOf: repeatElement(true, count: special.ids.count))
            } else {
                result.ids.append(contentsOf: content.ids)
                result.tokens.append(contentsOf: content.tokens)
                result.offsets.append(contentsOf: content.offsets)
                result.specialTokensMask.append(contentsOf: repeatElement(false, count: content.ids.count))
            }
        }
        return result
    }

    /// Decodes ids to text with the tokenizer's decoder; unknown ids are dropped, as in HF.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String {
        var tokens: [[UInt32]] = []
        tokens.reserveCapacity(ids.count)
        for id in ids {
            if skipSpecialTokens && specialIDs.contains(id) { continue }
            guard let token = token(forID: id) else { continue }
            tokens.append(scalarsOf(token))
        }
        let pieces: [[UInt32]]
        if let decoder {
            pieces = decoder.decodeChain(tokens)
        } else {
            pieces = tokens.enumerated().flatMap { $0.offset == 0 ? [$0.element] : [[0x20], $0.element] }
        }
        var text = String.UnicodeScalarView()
        for piece in pieces {
            for scalar in piece { text.append(Unicode.Scalar(scalar)!) }
        }
        return String(text)
    }

    /// The tokens of `text` before truncation and the template.
    private func encodeContent(_ text: String) -> ContentTokens {
        var scalars: [UInt32] = []
        scalars.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars { scalars.append(scalar.value) }
        var output = ContentTokens()
        var scratch = BPEScratch()
        var pieceTokens = PieceTokens()
        scalars.withUnsafeBufferPointer { original in
            for split in rawMatcher.split(original) {
                if let index = split.token {
                    output.appendAdded(
                        rawMatcher.tokens[index].id, original: original, range: split.range,
                        starts: nil, ends: nil)
                    continue
                }
                var piece = NormalizedPiece(original: original, range: split.range)
                normalizer?.apply(to: &piece)
                if piece.isEmpty { continue }
                let subSplits =
                    normalizedMatcher.isEmpty
                    ? [AddedTokenSplit(token: nil, range: 0..<piece.scalars.count)]
                    : piece.scalars.withUnsafeBufferPointer { normalizedMatcher.split($0) }
                for sub in subSplits {
                    if let index = sub.token {
                        piece.scalars.withUnsafeBufferPointer { normalized in
                            output.appendAdded(
                                normalizedMatcher.tokens[index].id, original: normalized, range: sub.range,
                                starts: piece.originalStarts, ends: piece.originalEnds)
                        }
                        continue
                    }
                    let subPiece = sub.range == 0..<piece.scalars.count ? piece : piece.slice(sub.range)
                    let words = preTokenizer?.apply(to: [subPiece]) ?? [subPiece]
                    for word in words where !word.isEmpty {
                        pieceTokens.removeAll()
                        word.scalars.withUnsafeBufferPointer {
                            model.tokenize($0, into: &pieceTokens, scratch: &scratch)
                        }
                        for k in 0..<pieceTokens.ids.count {
                            let id = pieceTokens.ids[k]
                            let start = Int(word.originalStarts[Int(pieceTokens.starts[k])])
                            let end = Int(word.originalEnds[Int(pieceTokens.ends[k]) - 1])
                            output.append(id, token: model.tokenStrings[Int(id)] ?? "", offsets: start..<end)
                        }
                    }
                }
            }
        }
        return output
    }
}

/// The `truncation` member: nil, or the length and direction `encode` applies by default.
private func truncationSetting(_ json: JSONValue) throws -> (maxLength: Int, direction: TruncationDirection)? {
    if json.isNull { return nil }
    let strategy = json["strategy"]?.stringValue ?? "LongestFirst"
    // With one sequence, LongestFirst and OnlyFirst cut the same tokens; OnlySecond has nothing to cut and fails in HF.
    guard strategy == "LongestFirst" || strategy == "OnlyFirst" else {
        throw TokenizerError.unsupportedComponent(kind: "truncation strategy", type: strategy)
    }
    guard let maxLength = json["max_length"]?.intValue, maxLength >= 0 else {
        throw TokenizerError.invalidTokenizer("truncation without a max_length")
    }
    let directionName = json["direction"]?.stringValue ?? "Right"
    guard let direction = TruncationDirection(rawValue: directionName.lowercased()) else {
        throw TokenizerError.unsupportedComponent(kind: "truncation direction", type: directionName)
    }
    return (maxLength, direction)
}

/// The `padding` member: HF pads even a single encoding with it, unless it pads to the batch's longest (a no-op for
/// one text) without a multiple. Padding ids are the batcher's job here, so any other padding is refused.
private func checkPadding(_ json: JSONValue) throws {
    if json.isNull { return }
    let strategy = json["strategy"]?.stringValue
    guard strategy == "BatchLongest", json["pad_to_multiple_of"]?.isNull ?? true else {
        throw TokenizerError.unsupportedComponent(kind: "padding", type: strategy ?? "Fixed")
    }
}

/// Content tokens of one text, before the template.
struct ContentTokens {
    var ids: [Int32] = []
    var tokens: [String] = []
    var offsets: [Range<Int>] = []

    mutating func append(_ id: Int32, token: String, offsets range: Range<Int>) {
        ids.append(id)
        tokens.append(token)
        offsets.append(range)
    }

    /// An added token cut from `text[range]`; its token string is the matched text (which includes stripped spaces).
    mutating func appendAdded(
        _ id: Int32, original text: UnsafeBufferPointer<UInt32>, range: Range<Int>,
        starts: [Int32]?, ends: [Int32]?
    ) {
        var scalars = String.UnicodeScalarView()
        for i in range { scalars.append(Unicode.Scalar(text[i])!) }
        let offsets: Range<Int>
        if let starts, let ends {
            offsets = range.isEmpty ? 0..<0 : Int(starts[range.lowerBound])..<Int(ends[range.upperBound - 1])
        } else {
            offsets = range
        }
        append(id, token: String(scalars), offsets: offsets)
    }

    mutating func truncate(to limit: Int, direction: TruncationDirection) {
        switch direction {
        case .right:
            ids.removeSubrange(limit...)
            tokens.removeSubrange(limit...)
            offsets.removeSubrange(limit...)
        case .left:
            let drop = ids.count - limit
            ids.removeSubrange(..<drop)
            tokens.removeSubrange(..<drop)
            offsets.removeSubrange(..<drop)
        }
    }
}

extension AddedToken {
    func withContent(_ content: String) -> AddedToken {
        AddedToken(
            id: id, content: content, special: special, singleWord: singleWord, lstrip: lstrip, rstrip: rstrip,
            normalized: normalized)
    }
}

extension Normalizer {
    /// The normalized form of a whole string (used for `normalized: true` added tokens, as HF caches them).
    func normalize(_ text: String) -> String {
        let scalars = scalarsOf(text)
        var piece = NormalizedPiece(
            scalars: scalars, originalStarts: scalars.indices.map { Int32($0) },
            originalEnds: scalars.indices.map { Int32($0 + 1) })
        apply(to: &piece)
        var view = String.UnicodeScalarView()
        for scalar in piece.scalars { view.append(Unicode.Scalar(scalar)!) }
        return String(view)
    }
}
