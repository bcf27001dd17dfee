import JSON

// The `model` of tokenizer.json, chosen by its `type`: BPE (EmbeddingGemma), WordPiece (BERT) or Unigram (XLM-R). All
// stream their vocab into a `TokenTable`; only BPE has merges and a binary cache (a WordPiece vocab of 30,522 tokens
// parses in a few milliseconds; a Unigram one is parsed too, its scores and trie are not cached).

/// The supported tokenizer models.
enum TokenizerModel: Sendable {
    case bpe(BPEModel)
    case wordPiece(WordPieceModel)
    case unigram(UnigramModel)

    static let supportedTypes = ["BPE", "WordPiece", "Unigram"]

    var vocab: TokenTable {
        switch self {
        case .bpe(let model): return model.vocab
        case .wordPiece(let model): return model.vocab
        case .unigram(let model): return model.vocab
        }
    }

    /// Number of ids the model gives tokens (a Unigram vocab may list a piece twice, under two ids).
    var size: Int {
        switch self {
        case .unigram(let model): return model.scores.count
        default: return vocab.count
        }
    }

    var tokenStrings: [String?] {
        switch self {
        case .bpe(let model): return model.tokenStrings
        case .wordPiece(let model): return model.tokenStrings
        case .unigram(let model): return model.tokenStrings
        }
    }

    /// The BPE tables worth caching, nil for other models.
    var cacheableTables: (vocab: TokenTable, merges: PairTable)? {
        if case .bpe(let model) = self { return (model.vocab, model.merges) }
        return nil
    }

    /// Reads the `model` object. The vocab and merges are streamed into their tables, or skipped when `cached` holds
    /// the tables already built from this same file (BPE's; a Unigram vocab, a list, is always read).
    static func load(from reader: inout JSONReader, cached: (vocab: TokenTable, merges: PairTable)? = nil) throws
        -> TokenizerModel
    {
        var type: String?
        var vocab = cached?.vocab ?? TokenTable(expectedCount: 1 << 18)
        var vocabSeen = false
        var mergesSeen = false
        var deferredMerges: Int?
        var merges = cached?.merges ?? PairTable(capacityFor: 0)
        var settings: [String: JSONValue] = [:]
        var unigramVocab: (table: TokenTable, strings: [String?], scores: [Double])?
        var deferredUnigramVocab: Int?

        try reader.readObject { reader, key in
            switch key {
            case "vocab" where try reader.peek() == UInt8(ascii: "["):
                if type == "Unigram" {
                    unigramVocab = try UnigramModel.readVocab(&reader)
                } else {
                    deferredUnigramVocab = reader.position
                    try reader.skipValue()
                }
            case "vocab" where cached != nil, "merges" where cached != nil:
                try reader.skipValue()
                vocabSeen = true
                mergesSeen = mergesSeen || key == "merges"
            case "vocab" where try reader.peek() == UInt8(ascii: "{"):
                try BPEModel.readVocab(&reader, into: &vocab)
                vocabSeen = true
            case "merges" where type != nil && type != "BPE":
                try reader.skipValue()
            case "merges":
                mergesSeen = true
                if vocabSeen {
                    merges = try BPEModel.readMerges(
                        &reader, vocab: vocab, prefix: settings["continuing_subword_prefix"])
                } else {
                    deferredMerges = reader.position
                    try reader.skipValue()
                }
            case "type":
                type = try reader.readValue().stringValue
            default:
                settings[key] = try reader.readValue()
            }
        }
        guard let type else {
            throw TokenizerError.invalidTokenizer("model has no \"type\"")
        }
        switch type {
        case "BPE":
            guard vocabSeen else { throw TokenizerError.invalidTokenizer("BPE model has no vocab object") }
            if let deferredMerges {
                var rewound = reader
                rewound.position = deferredMerges
                merges = try BPEModel.readMerges(&rewound, vocab: vocab, prefix: settings["continuing_subword_prefix"])
            }
            if let dropout = settings["dropout"], !dropout.isNull, dropout != .number(0) {
                throw TokenizerError.unsupportedComponent(kind: "model option", type: "BPE dropout")
            }
            return .bpe(try BPEModel(vocab: vocab, merges: merges, settings: settings))
        case "WordPiece":
            guard vocabSeen else { throw TokenizerError.invalidTokenizer("WordPiece model has no vocab object") }
            return .wordPiece(try WordPieceModel(vocab: vocab, settings: settings))
        case "Unigram":
            if unigramVocab == nil, let deferredUnigramVocab {
                var rewound = reader
                rewound.position = deferredUnigramVocab
                unigramVocab = try UnigramModel.readVocab(&rewound)
            }
            guard let unigramVocab else { throw TokenizerError.invalidTokenizer("Unigram model has no vocab list") }
            return .unigram(
                try UnigramModel(
                    vocab: unigramVocab.table, tokenStrings: unigramVocab.strings, scores: unigramVocab.scores,
                    settings: settings))
        default:
            throw TokenizerError.unsupportedModel(type: type, supported: supportedTypes)
        }
    }
}
