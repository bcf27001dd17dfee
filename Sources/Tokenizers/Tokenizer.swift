import JSON

// The public tokenizer: loads tokenizer.json and runs HF's pipeline (added tokens → normalizer → pre-tokenizer →
// model → truncation → post-processor), with offsets in Unicode scalars of the original text.

/// The result of encoding one text.
package struct Encoding: Sendable, Equatable {
    /// Token ids, special tokens included when they were asked for.
    package var ids: [Int32]
    /// Token strings as in the vocab (`▁Hello`, `<0xE2>`, `<bos>`).
    package var tokens: [String]
    /// Unicode-scalar offsets into the original text (Python `str` indices); `0..<0` for template specials.
    package var offsets: [Range<Int>]
    /// True for the special tokens the post-processor added (`<bos>`, `<eos>`).
    package var specialTokensMask: [Bool]
    /// Token type (segment) ids: 0 throughout for one text; for a pair, what the post-processor gives each part
    /// (BERT: 0 for `[CLS] A [SEP]`, 1 for `B [SEP]`).
    package var typeIDs: [Int32]

    /// An encoding from its parts, all of the same length; `typeIDs` nil means all 0.
    package init(
        ids: [Int32], tokens: [String], offsets: [Range<Int>], specialTokensMask: [Bool], typeIDs: [Int32]? = nil
    ) {
        self.ids = ids
        self.tokens = tokens
        self.offsets = offsets
        self.specialTokensMask = specialTokensMask
        self.typeIDs = typeIDs ?? Array(repeating: 0, count: ids.count)
    }
}

/// Which end of the content truncation removes tokens from: `.right` keeps the first tokens.
package enum TruncationDirection: String, Sendable {
    case right, left
}

/// A Hugging Face `tokenizer.json` tokenizer (BPE, byte-level BPE, WordPiece and SentencePiece Unigram) that
/// reproduces the `tokenizers` library.
///
/// Supported components: model `BPE` (byte fallback, `unk_token` with `fuse_unk`, `continuing_subword_prefix`,
/// `end_of_word_suffix`, `ignore_merges`; no dropout), `WordPiece` (`unk_token`, `continuing_subword_prefix`,
/// `max_input_chars_per_word`) or `Unigram` (`unk_id`, `byte_fallback`); normalizers `BertNormalizer`, `Lowercase`,
/// `NFD`, `StripAccents`, `Precompiled`, `Strip`, `Replace` (string pattern, or a regex of one repeated character),
/// `Prepend`, `Sequence`; pre-tokenizers `BertPreTokenizer`, `Whitespace`, `WhitespaceSplit`, `ByteLevel`, `Split`
/// (string pattern, every behaviour, `invert`), `Metaspace`, `Sequence`; post-processors `TemplateProcessing`,
/// `BertProcessing`, `RobertaProcessing` and `ByteLevel`, for one text or a pair; decoders `WordPiece`, `ByteLevel`,
/// `Replace`, `ByteFallback`, `Fuse`, `Strip`, `Metaspace`, `Sequence`; added tokens with `lstrip`, `rstrip`,
/// `single_word` and `normalized`. Anything else (NFKC, other regex patterns, WordLevel, …) fails with
/// `TokenizerError.unsupportedComponent` or `.unsupportedModel`. The file's `padding` is ignored, as TEI ignores
/// it: padding is the batcher's business.
///
/// Ids from `vocabularySize` up are added tokens with no row in the model's embedding table. For EmbeddingGemma that
/// is `<image_soft_token>` (262144): literal `"<image_soft_token>"` in a text encodes to it, so callers that embed
/// must reject any id `>= vocabularySize` (see `firstIDOutsideVocabulary(_:)`).
package final class Tokenizer: Sendable {
    let model: TokenizerModel
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
    package let loadedFromCache: Bool
    /// Why a cache file that was there could not be used (stale, damaged, failed a check): the tables were built
    /// from tokenizer.json instead and the cache rewritten. For start-up logs; nil otherwise.
    package let cacheRebuildReason: String?

    /// Reads `directory/tokenizer.json`, with the table cache in the same directory.
    package convenience init(directory: String) throws {
        let path = directory.hasSuffix("/") ? directory + "tokenizer.json" : directory + "/tokenizer.json"
        try self.init(tokenizerJSONPath: path)
    }

    /// Reads a tokenizer.json file, with the table cache next to it.
    package convenience init(tokenizerJSONPath: String) throws {
        let directory =
            tokenizerJSONPath.contains("/") ? String(tokenizerJSONPath[..<tokenizerJSONPath.lastIndex(of: "/")!]) : "."
        try self.init(tokenizerJSONPath: tokenizerJSONPath, cacheDirectory: directory.isEmpty ? "/" : directory)
    }

    /// Reads a tokenizer.json file. With a `cacheDirectory`, the vocab and merge tables are read from a binary cache
    /// there when it matches the file's content hash and passes its checks, and written there otherwise; an
    /// unwritable directory means parsing the JSON, and a stale, damaged or failing cache also sets
    /// `cacheRebuildReason`. `nil` always parses.
    package init(tokenizerJSONPath: String, cacheDirectory: String?) throws {
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
        var model: TokenizerModel?
        var addedJSON: [JSONValue] = []
        var normalizerJSON = JSONValue.null
        var preTokenizerJSON = JSONValue.null
        var postProcessorJSON = JSONValue.null
        var decoderJSON = JSONValue.null
        var truncationJSON = JSONValue.null
        do {
            try bytes.withUnsafeBufferPointer { buffer in
                var reader = JSONReader(bytes: buffer)
                try reader.readObject { reader, key in
                    switch key {
                    case "model": model = try TokenizerModel.load(from: &reader, cached: cached)
                    case "added_tokens": addedJSON = try reader.readValue().arrayValue ?? []
                    case "normalizer": normalizerJSON = try reader.readValue()
                    case "pre_tokenizer": preTokenizerJSON = try reader.readValue()
                    case "post_processor": postProcessorJSON = try reader.readValue()
                    case "decoder": decoderJSON = try reader.readValue()
                    case "truncation": truncationJSON = try reader.readValue()
                    default: try reader.skipValue()
                    }
                }
                try reader.expectEnd()
            }
        } catch let error as JSONError {
            throw TokenizerError(error)
        }
        guard let model else { throw TokenizerError.invalidTokenizer("no \"model\"") }
        self.model = model
        // A Unigram model reads its vocab list whatever a cache holds.
        if case .unigram = model { loadedFromCache = false } else { loadedFromCache = cached != nil }
        cacheRebuildReason = rebuildReason
        let normalizer = normalizerJSON.isNull ? nil : try Normalizer(json: normalizerJSON)
        self.normalizer = normalizer
        preTokenizer = preTokenizerJSON.isNull ? nil : try PreTokenizer(json: preTokenizerJSON)
        postProcessor = postProcessorJSON.isNull ? nil : try PostProcessor(json: postProcessorJSON)
        decoder = decoderJSON.isNull ? nil : try Decoder(json: decoderJSON)
        defaultTruncation = try truncationSetting(truncationJSON)

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
        if cached == nil, let cachePath, let tables = model.cacheableTables {
            TokenizerCache.store(path: cachePath, contentHash: contentHash, vocab: tables.vocab, merges: tables.merges)
        }
    }

    /// Number of tokens in the model's vocab; ids at or above it are added tokens outside the embedding table.
    package var vocabularySize: Int { model.size }

    /// The first id in `ids` that has no row in a `vocabularySize`-row embedding table, if any.
    package func firstIDOutsideVocabulary(_ ids: [Int32]) -> Int32? {
        ids.first { $0 < 0 || Int($0) >= vocabularySize }
    }

    /// The id of a token string (added tokens first, then the vocab).
    package func id(forToken token: String) -> Int32? {
        if let added = addedTokenByContent[token], added.content.utf8.elementsEqual(token.utf8) { return added.id }
        return model.vocab.lookup(Array(token.utf8))
    }

    /// The token string of an id (added tokens first, then the vocab).
    package func token(forID id: Int32) -> String? {
        if let added = addedTokenByID[id] { return added.content }
        let strings = model.tokenStrings
        guard id >= 0, Int(id) < strings.count else { return nil }
        return strings[Int(id)]
    }

    /// Encodes one text with HF's pipeline; `addSpecialTokens` wraps it in the post-processor's template. A
    /// `truncation` set in tokenizer.json applies here, as in HF's `encode`.
    package func encode(_ text: String, addSpecialTokens: Bool = true) -> Encoding {
        encode(
            text, addSpecialTokens: addSpecialTokens, maxLength: defaultTruncation?.maxLength,
            direction: defaultTruncation?.direction ?? .right)
    }

    /// Encodes and truncates to `maxLength` tokens in total (nil: no limit, whatever tokenizer.json says), keeping
    /// the template's special tokens (for Gemma,
    /// `maxLength` 2048 keeps the first 2046 content tokens, then `<eos>`). A `maxLength` below the number of
    /// template specials keeps no content, only the specials (HF's Rust code underflows there and keeps everything).
    package func encode(_ text: String, addSpecialTokens: Bool = true, maxLength: Int?, direction: TruncationDirection)
        -> Encoding
    {
        var content = encodeContent(text)
        if let maxLength {
            let specials = addSpecialTokens ? (postProcessor?.addedTokenCount(pair: false) ?? 0) : 0
            let limit = max(0, maxLength - specials)
            if content.ids.count > limit { content.truncate(to: limit, direction: direction) }
        }
        return assemble([content], addSpecialTokens: addSpecialTokens)
    }

    /// Encodes a pair of texts (a cross-encoder's query and document) with the post-processor's pair template:
    /// for BERT `[CLS] text [SEP] pair [SEP]`, type ids 0 then 1; offsets of each part index its own text. A
    /// `truncation` set in tokenizer.json applies here, as in HF's `encode`.
    package func encode(_ text: String, pair: String, addSpecialTokens: Bool = true) -> Encoding {
        encode(
            text, pair: pair, addSpecialTokens: addSpecialTokens, maxLength: defaultTruncation?.maxLength,
            direction: defaultTruncation?.direction ?? .right)
    }

    /// Encodes a pair of texts and truncates to `maxLength` tokens in total, special tokens included (nil: no
    /// limit), with HF's `longest_first` strategy: tokens come off the longer part until both fit, and when both
    /// are over half, each keeps half (the first part rounded down).
    package func encode(
        _ text: String, pair: String, addSpecialTokens: Bool = true, maxLength: Int?, direction: TruncationDirection
    ) -> Encoding {
        var first = encodeContent(text)
        var second = encodeContent(pair)
        if let maxLength {
            let specials = addSpecialTokens ? (postProcessor?.addedTokenCount(pair: true) ?? 0) : 0
            let (firstLimit, secondLimit) = longestFirstLimits(
                first.ids.count, second.ids.count, maxLength: max(0, maxLength - specials))
            if first.ids.count > firstLimit { first.truncate(to: firstLimit, direction: direction) }
            if second.ids.count > secondLimit { second.truncate(to: secondLimit, direction: direction) }
        }
        return assemble([first, second], addSpecialTokens: addSpecialTokens)
    }

    /// The post-processor's template around one or two content sequences: special tokens only when asked for,
    /// type ids always (with no post-processor, 0 for the first text and 1 for the pair, as HF).
    private func assemble(_ contents: [ContentTokens], addSpecialTokens: Bool) -> Encoding {
        var contents = contents
        if let postProcessor {
            for i in contents.indices { postProcessor.trimOffsets(&contents[i]) }
        }
        let pieces: [PostProcessor.Piece] =
            postProcessor.map { contents.count == 1 ? $0.single : $0.pair }
            ?? contents.indices.map { .sequence(index: $0, typeID: Int32($0)) }
        var result = Encoding(ids: [], tokens: [], offsets: [], specialTokensMask: [], typeIDs: [])
        let specials = addSpecialTokens ? (postProcessor?.addedTokenCount(pair: contents.count == 2) ?? 0) : 0
        let total = contents.reduce(specials) { $0 + $1.ids.count }
        result.ids.reserveCapacity(total)
        result.tokens.reserveCapacity(total)
        result.offsets.reserveCapacity(total)
        result.specialTokensMask.reserveCapacity(total)
        result.typeIDs.reserveCapacity(total)
        for piece in pieces {
            switch piece {
            case .special(let ids, let tokens, let typeID):
                guard addSpecialTokens else { continue }
                result.ids.append(contentsOf: ids)
                result.tokens.append(contentsOf: tokens)
                result.offsets.append(contentsOf: repeatElement(0..<0, count: ids.count))
                result.specialTokensMask.append(contentsOf: repeatElement(true, count: ids.count))
                result.typeIDs.append(contentsOf: repeatElement(typeID, count: ids.count))
            case .sequence(let index, let typeID):
                let content = contents[index]
                result.ids.append(contentsOf: content.ids)
                result.tokens.append(contentsOf: content.tokens)
                result.offsets.append(contentsOf: content.offsets)
                result.specialTokensMask.append(contentsOf: repeatElement(false, count: content.ids.count))
                result.typeIDs.append(contentsOf: repeatElement(typeID, count: content.ids.count))
            }
        }
        return result
    }

    /// Decodes ids to text with the tokenizer's decoder; unknown ids are dropped, as in HF.
    package func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String {
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
        switch model {
        case .bpe(let bpe): return encodeContent(text, with: bpe)
        case .wordPiece(let wordPiece): return encodeContent(text, with: wordPiece)
        case .unigram(let unigram): return encodeContent(text, with: unigram)
        }
    }

    /// `encodeContent` for one model type, so the per-word call is direct (specialised, no enum switch per word).
    private func encodeContent<Model: WordModel>(_ text: String, with model: Model) -> ContentTokens {
        var scalars: [UInt32] = []
        scalars.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars { scalars.append(scalar.value) }
        var output = ContentTokens()
        var scratch = model.makeScratch()
        var pieceTokens = PieceTokens()
        let tokenStrings = model.tokenStrings
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
                    var subPiece = sub.range == 0..<piece.scalars.count ? piece : piece.slice(sub.range)
                    var ranges = preTokenizer?.wordRanges(in: subPiece.scalars)
                    if case .metaspace(let replacement, let scheme, let split)? = preTokenizer {
                        ranges = subPiece.applyMetaspace(replacement: replacement, scheme: scheme, split: split)
                    }
                    if let ranges {
                        subPiece.scalars.withUnsafeBufferPointer { buffer in
                            for range in ranges {
                                Tokenizer.appendWord(
                                    subPiece, range, buffer, model: model, tokenStrings: tokenStrings,
                                    pieceTokens: &pieceTokens, scratch: &scratch, output: &output)
                            }
                        }
                        continue
                    }
                    let words = preTokenizer?.apply(to: [subPiece]) ?? [subPiece]
                    for word in words where !word.isEmpty {
                        word.scalars.withUnsafeBufferPointer { buffer in
                            Tokenizer.appendWord(
                                word, 0..<word.scalars.count, buffer, model: model, tokenStrings: tokenStrings,
                                pieceTokens: &pieceTokens, scratch: &scratch, output: &output)
                        }
                    }
                }
            }
        }
        return output
    }

    /// Tokenizes `word.scalars[range]` (`buffer` holds `word.scalars`) into `output`, with offsets in the original
    /// text. Static with inout buffers: a local function capturing them would box them and check each access.
    @inline(__always)
    private static func appendWord<Model: WordModel>(
        _ word: NormalizedPiece, _ range: Range<Int>, _ buffer: UnsafeBufferPointer<UInt32>, model: Model,
        tokenStrings: [String?], pieceTokens: inout PieceTokens, scratch: inout Model.Scratch,
        output: inout ContentTokens
    ) {
        pieceTokens.removeAll()
        model.tokenize(UnsafeBufferPointer(rebasing: buffer[range]), into: &pieceTokens, scratch: &scratch)
        let base = range.lowerBound
        let textTokenID = model.textTokenID
        for k in 0..<pieceTokens.ids.count {
            let id = pieceTokens.ids[k]
            let first = base + Int(pieceTokens.starts[k])
            let last = base + Int(pieceTokens.ends[k]) - 1
            let start = Int(word.originalStarts[first])
            let end = Int(word.originalEnds[last])
            if id == textTokenID {
                var text = String.UnicodeScalarView()
                for i in first...last { text.append(Unicode.Scalar(buffer[i]) ?? "\u{FFFD}") }
                output.append(id, token: String(text), offsets: start..<end)
            } else {
                output.append(id, token: tokenStrings[Int(id)] ?? "", offsets: start..<end)
            }
        }
    }
}

/// A tokenizer model as the encoding loop sees it: one pre-tokenized word in, its tokens out.
protocol WordModel {
    associatedtype Scratch
    var tokenStrings: [String?] { get }
    /// The id whose token string is the text it covers rather than its vocab entry (Unigram's unknown), or -1.
    var textTokenID: Int32 { get }
    func makeScratch() -> Scratch
    func tokenize(_ scalars: UnsafeBufferPointer<UInt32>, into output: inout PieceTokens, scratch: inout Scratch)
}

extension BPEModel: WordModel {
    var textTokenID: Int32 { -1 }
    func makeScratch() -> BPEScratch { BPEScratch() }
}

extension WordPieceModel: WordModel {
    var textTokenID: Int32 { -1 }
    func makeScratch() -> WordPieceScratch { WordPieceScratch() }
}

extension UnigramModel: WordModel {
    var textTokenID: Int32 { unknownID }
    func makeScratch() -> UnigramScratch { UnigramScratch() }
}

/// HF `truncate_encodings` with `LongestFirst` for a pair of `first` and `second` tokens: how many of each to keep
/// within `maxLength`.
func longestFirstLimits(_ first: Int, _ second: Int, maxLength: Int) -> (Int, Int) {
    guard first + second > maxLength else { return (first, second) }
    var shorter = min(first, second)
    var longer: Int
    if shorter > maxLength {
        longer = shorter
    } else {
        longer = max(shorter, maxLength - shorter)
    }
    if shorter + longer > maxLength {
        shorter = maxLength / 2
        longer = shorter + maxLength % 2
    }
    return first > second ? (longer, shorter) : (shorter, longer)
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
