import JSON

/// One input as a client sends it: text, or token ids it tokenized itself.
package enum EmbedInput: Sendable, Equatable {
    case text(String)
    case ids([UInt32])

    /// TEI's `x-compute-characters` contribution: Unicode scalars of a text, or the number of ids.
    var characterCount: Int {
        switch self {
        case .text(let text): text.unicodeScalars.count
        case .ids(let ids): ids.count
        }
    }
}

/// One input of `/predict` (and each document of `/rerank`): a text, or a pair scored together.
package enum PredictSequence: Sendable, Equatable {
    case single(String)
    case pair(String, String)

    /// TEI's `x-compute-characters` contribution: Unicode scalars of both texts.
    var characterCount: Int {
        switch self {
        case .single(let text): text.unicodeScalars.count
        case .pair(let first, let second): first.unicodeScalars.count + second.unicodeScalars.count
        }
    }
}

/// How `/v1/embeddings` encodes each vector.
package enum EncodingFormat: String, Sendable, Equatable {
    case float
    case base64
}

/// `POST /embed` (and `/`, `/invocations`).
package struct EmbedRequest: Sendable, Equatable {
    package var inputs: [EmbedInput]
    package var truncate: Bool?
    package var truncationDirection: TruncationDirection = .right
    package var promptName: String?
    package var normalize = true
    package var dimensions: Int?
}

/// One instance of `POST /vertex`: a `/rerank` request if it has that shape, else a `/predict` request for a
/// classifier or an `/embed` request for an embedding model.
package enum VertexInstance: Sendable, Equatable {
    case embed(EmbedRequest)
    case rerank(RerankRequest)
    case predict(PredictRequest)
}

/// `POST /predict`: one text or pair, or a batch of them (TEI's `PredictInput`).
package struct PredictRequest: Sendable, Equatable {
    package var inputs: [PredictSequence]
    /// A single input (`"text"` or `["a", "b"]`) is answered with one list of predictions, a batch with a list each.
    package var isBatch: Bool
    package var truncate: Bool?
    package var truncationDirection: TruncationDirection = .right
    package var rawScores = false
}

/// `POST /rerank`.
package struct RerankRequest: Sendable, Equatable {
    package var query: String
    package var texts: [String]
    package var truncate: Bool?
    package var truncationDirection: TruncationDirection = .right
    package var rawScores = false
    package var returnText = false
}

/// `POST /embed_all`: token-level hidden states.
package struct EmbedAllRequest: Sendable, Equatable {
    package var inputs: [EmbedInput]
    package var truncate: Bool?
    package var truncationDirection: TruncationDirection = .right
    package var promptName: String?
}

/// `POST /v1/embeddings` and `/embeddings`; `prompt_name` and `normalize` are this server's extensions.
package struct OpenAIEmbeddingsRequest: Sendable, Equatable {
    package var input: [EmbedInput]
    package var model: String?
    package var encodingFormat: EncodingFormat = .float
    package var dimensions: Int?
    package var user: String?
    package var promptName: String?
    package var normalize = true
}

/// `POST /similarity`.
package struct SimilarityRequest: Sendable, Equatable {
    package var sourceSentence: String
    package var sentences: [String]
    package var truncate: Bool?
    package var truncationDirection: TruncationDirection = .right
    package var promptName: String?
}

/// `POST /tokenize`.
package struct TokenizeRequest: Sendable, Equatable {
    package var inputs: [String]
    package var isBatch: Bool
    package var addSpecialTokens = true
    package var promptName: String?
    /// Cut inputs longer than the model's max input length (default: `--auto-truncate`); beyond TEI, which
    /// returns every token however many there are.
    package var truncate: Bool?
    package var truncationDirection: TruncationDirection = .right
}

/// `POST /decode`.
package struct DecodeRequest: Sendable, Equatable {
    package var ids: [[UInt32]]
    package var skipSpecialTokens = true
}

/// Reads request bodies with TEI's rules: unknown fields ignored, `null` only where TEI's types are optional,
/// failures worded as TEI's JSON extractor words them (400 for syntax, 422 for shape).
enum RequestDecoder {
    static func object(_ body: [UInt8]) throws(APIError) -> JSONValue.Object {
        let value: JSONValue
        do {
            value = try JSONParser.parse(body)
        } catch {
            throw .malformedJSON(error.description)
        }
        guard case .object(let members) = value else {
            throw shape("invalid type: \(value.typeDescription), expected a map")
        }
        return members
    }

    static func shape(_ detail: String) -> APIError {
        .undecodableJSON(detail)
    }

    static func missing(_ field: String) -> APIError {
        shape("missing field `\(field)`")
    }

    static func embedInputs(_ value: JSONValue?, field: String) throws(APIError) -> [EmbedInput] {
        guard let value else { throw missing(field) }
        let mismatch = shape("\(field): data did not match any variant of untagged enum Input")
        switch value {
        case .string(let text):
            return [.text(text)]
        case .array(let elements):
            // Single(Ids) first: an array of integers (including `[]`) is ONE pre-tokenized input.
            if let ids = tokenIDs(elements) { return [.ids(ids)] }
            var inputs: [EmbedInput] = []
            inputs.reserveCapacity(elements.count)
            for element in elements {
                switch element {
                case .string(let text): inputs.append(.text(text))
                case .array(let inner):
                    guard let ids = tokenIDs(inner) else { throw mismatch }
                    inputs.append(.ids(ids))
                default: throw mismatch
                }
            }
            return inputs
        default:
            throw mismatch
        }
    }

    static func tokenIDs(_ elements: [JSONValue]) -> [UInt32]? {
        var ids: [UInt32] = []
        ids.reserveCapacity(elements.count)
        for element in elements {
            guard case .number(let value, true) = element, let id = UInt32(exactly: value) else { return nil }
            ids.append(id)
        }
        return ids
    }

    static func bool(_ members: JSONValue.Object, _ key: String, default fallback: Bool) throws(APIError) -> Bool {
        guard let value = members[key] else { return fallback }
        guard case .bool(let flag) = value else {
            throw shape("\(key): invalid type: \(value.typeDescription), expected a boolean")
        }
        return flag
    }

    static func optionalBool(_ members: JSONValue.Object, _ key: String) throws(APIError) -> Bool? {
        guard let value = members[key], value != .null else { return nil }
        return try bool(members, key, default: false)
    }

    static func optionalString(_ members: JSONValue.Object, _ key: String) throws(APIError) -> String? {
        guard let value = members[key], value != .null else { return nil }
        guard case .string(let text) = value else {
            throw shape("\(key): invalid type: \(value.typeDescription), expected a string")
        }
        return text
    }

    static func optionalCount(_ members: JSONValue.Object, _ key: String) throws(APIError) -> Int? {
        guard let value = members[key], value != .null else { return nil }
        guard case .number(let number, true) = value, number >= 0, let count = Int(exactly: number) else {
            throw shape("\(key): invalid type: \(value.typeDescription), expected usize")
        }
        return count
    }

    static func direction(_ members: JSONValue.Object, _ key: String = "truncation_direction") throws(APIError)
        -> TruncationDirection
    {
        guard let value = members[key] else { return .right }
        switch value {
        case .string("Right"), .string("right"): return .right
        case .string("Left"), .string("left"): return .left
        case .string(let other):
            throw shape("\(key): unknown variant `\(other)`, expected one of `Left`, `left`, `Right`, `right`")
        default:
            throw shape("\(key): invalid type: \(value.typeDescription), expected a truncation direction")
        }
    }

    static func embed(_ body: [UInt8]) throws(APIError) -> EmbedRequest {
        try embed(members: try object(body))
    }

    static func embed(members: JSONValue.Object) throws(APIError) -> EmbedRequest {
        EmbedRequest(
            inputs: try embedInputs(members["inputs"], field: "inputs"),
            truncate: try optionalBool(members, "truncate"),
            truncationDirection: try direction(members),
            promptName: try optionalString(members, "prompt_name"),
            normalize: try bool(members, "normalize", default: true),
            dimensions: try optionalCount(members, "dimensions"))
    }

    /// `{"instances": [...]}`. As TEI: an instance that decodes as a `/rerank` request is one; any other must decode
    /// as a `/predict` request on a classifier (`classifier`), an `/embed` request on an embedding model, else the
    /// whole call fails with 422 and serde's bare message (TEI converts the instance's own decoding error, without
    /// the body extractor's prefix).
    static func vertex(_ body: [UInt8], classifier: Bool = false) throws(APIError) -> [VertexInstance] {
        let members = try object(body)
        guard let value = members["instances"] else { throw missing("instances") }
        guard case .array(let elements) = value else {
            throw shape("instances: invalid type: \(value.typeDescription), expected a sequence")
        }
        return try elements.map { element throws(APIError) -> VertexInstance in
            guard case .object(let instance) = element else {
                throw APIError(.validation, "invalid type: \(element.typeDescription), expected struct EmbedRequest")
            }
            if let request = try? rerank(members: instance) { return .rerank(request) }
            do throws(APIError) {
                return classifier ? .predict(try predict(members: instance)) : .embed(try embed(members: instance))
            } catch {
                throw APIError(.validation, error.undecodableDetail ?? error.message)
            }
        }
    }

    static func predict(_ body: [UInt8]) throws(APIError) -> PredictRequest {
        try predict(members: try object(body))
    }

    static func predict(members: JSONValue.Object) throws(APIError) -> PredictRequest {
        guard let value = members["inputs"] else { throw missing("inputs") }
        let (inputs, isBatch) = try predictInputs(value)
        return PredictRequest(
            inputs: inputs, isBatch: isBatch, truncate: try optionalBool(members, "truncate"),
            truncationDirection: try direction(members), rawScores: try bool(members, "raw_scores", default: false))
    }

    /// TEI's `PredictInput`: a string; an array whose first element is a string is one text or pair (`["a"]`,
    /// `["a", "b"]`); one whose first element is an array is a batch of one- or two-string arrays.
    static func predictInputs(_ value: JSONValue) throws(APIError) -> (inputs: [PredictSequence], isBatch: Bool) {
        let expecting =
            "expected a string, a pair of strings [string, string] or a batch of mixed strings and pairs [[string], [string, string], ...]"
        func length(_ count: Int) -> APIError { shape("inputs: invalid length \(count), \(expecting)") }
        func sequence(_ elements: [JSONValue]) throws(APIError) -> PredictSequence {
            let texts = try strings(.array(elements), field: "inputs")
            switch texts.count {
            case 1: return .single(texts[0])
            case 2: return .pair(texts[0], texts[1])
            default: throw length(texts.count)
            }
        }
        switch value {
        case .string(let text):
            return ([.single(text)], false)
        case .array(let elements):
            guard let first = elements.first else { throw length(0) }
            switch first {
            case .string:
                guard elements.count <= 2 else { throw length(elements.count) }
                return ([try sequence(elements)], false)
            case .array:
                return (
                    try elements.map { element throws(APIError) -> PredictSequence in
                        guard case .array(let inner) = element else {
                            throw shape("inputs: invalid type: \(element.typeDescription), expected a sequence")
                        }
                        return try sequence(inner)
                    }, true
                )
            default:
                throw shape("inputs: data did not match any variant of untagged enum Internal")
            }
        default:
            throw shape("inputs: invalid type: \(value.typeDescription), \(expecting)")
        }
    }

    static func rerank(_ body: [UInt8]) throws(APIError) -> RerankRequest {
        try rerank(members: try object(body))
    }

    static func rerank(members: JSONValue.Object) throws(APIError) -> RerankRequest {
        guard let query = members["query"] else { throw missing("query") }
        guard case .string(let queryText) = query else {
            throw shape("query: invalid type: \(query.typeDescription), expected a string")
        }
        guard let texts = members["texts"] else { throw missing("texts") }
        return RerankRequest(
            query: queryText, texts: try strings(texts, field: "texts"),
            truncate: try optionalBool(members, "truncate"),
            truncationDirection: try direction(members), rawScores: try bool(members, "raw_scores", default: false),
            returnText: try bool(members, "return_text", default: false))
    }

    static func embedAll(_ body: [UInt8]) throws(APIError) -> EmbedAllRequest {
        let members = try object(body)
        return EmbedAllRequest(
            inputs: try embedInputs(members["inputs"], field: "inputs"),
            truncate: try optionalBool(members, "truncate"),
            truncationDirection: try direction(members),
            promptName: try optionalString(members, "prompt_name"))
    }

    static func openAI(_ body: [UInt8]) throws(APIError) -> OpenAIEmbeddingsRequest {
        let members = try object(body)
        var format = EncodingFormat.float
        if let value = members["encoding_format"], value != .null {
            guard case .string(let name) = value else {
                throw shape("encoding_format: invalid type: \(value.typeDescription), expected `float` or `base64`")
            }
            guard let known = EncodingFormat(rawValue: name) else {
                throw shape("encoding_format: unknown variant `\(name)`, expected `float` or `base64`")
            }
            format = known
        }
        return OpenAIEmbeddingsRequest(
            input: try embedInputs(members["input"], field: "input"),
            model: try optionalString(members, "model"),
            encodingFormat: format,
            dimensions: try optionalCount(members, "dimensions"),
            user: try optionalString(members, "user"),
            promptName: try optionalString(members, "prompt_name"),
            normalize: try bool(members, "normalize", default: true))
    }

    static func similarity(_ body: [UInt8]) throws(APIError) -> SimilarityRequest {
        let members = try object(body)
        guard let inputsValue = members["inputs"] else { throw missing("inputs") }
        guard case .object(let inputs) = inputsValue else {
            throw shape("inputs: invalid type: \(inputsValue.typeDescription), expected struct SimilarityInput")
        }
        guard let source = inputs["source_sentence"] else { throw shape("inputs: missing field `source_sentence`") }
        guard case .string(let sourceSentence) = source else {
            throw shape("inputs.source_sentence: invalid type: \(source.typeDescription), expected a string")
        }
        guard let sentencesValue = inputs["sentences"] else { throw shape("inputs: missing field `sentences`") }
        let sentences = try strings(sentencesValue, field: "inputs.sentences")
        var parameters = JSONValue.Object()
        if let value = members["parameters"], value != .null {
            guard case .object(let object) = value else {
                throw shape("parameters: invalid type: \(value.typeDescription), expected struct SimilarityParameters")
            }
            parameters = object
        }
        return SimilarityRequest(
            sourceSentence: sourceSentence, sentences: sentences,
            truncate: try optionalBool(parameters, "truncate"),
            truncationDirection: try direction(parameters),
            promptName: try optionalString(parameters, "prompt_name"))
    }

    static func strings(_ value: JSONValue, field: String) throws(APIError) -> [String] {
        guard case .array(let elements) = value else {
            throw shape("\(field): invalid type: \(value.typeDescription), expected a sequence")
        }
        var result: [String] = []
        for element in elements {
            guard case .string(let text) = element else {
                throw shape("\(field): invalid type: \(element.typeDescription), expected a string")
            }
            result.append(text)
        }
        return result
    }

    static func tokenize(_ body: [UInt8]) throws(APIError) -> TokenizeRequest {
        let members = try object(body)
        guard let value = members["inputs"] else { throw missing("inputs") }
        let inputs: [String]
        let isBatch: Bool
        switch value {
        case .string(let text):
            inputs = [text]
            isBatch = false
        case .array:
            guard let list = try? strings(value, field: "inputs") else {
                throw shape("inputs: data did not match any variant of untagged enum TokenizeInput")
            }
            inputs = list
            isBatch = true
        default:
            throw shape("inputs: data did not match any variant of untagged enum TokenizeInput")
        }
        return TokenizeRequest(
            inputs: inputs, isBatch: isBatch,
            addSpecialTokens: try bool(members, "add_special_tokens", default: true),
            promptName: try optionalString(members, "prompt_name"), truncate: try optionalBool(members, "truncate"),
            truncationDirection: try direction(members))
    }

    static func decode(_ body: [UInt8]) throws(APIError) -> DecodeRequest {
        let members = try object(body)
        guard let value = members["ids"] else { throw missing("ids") }
        let mismatch = shape("ids: data did not match any variant of untagged enum InputIds")
        guard case .array(let elements) = value else { throw mismatch }
        if let single = tokenIDs(elements) {
            return DecodeRequest(
                ids: [single], skipSpecialTokens: try bool(members, "skip_special_tokens", default: true))
        }
        var batch: [[UInt32]] = []
        for element in elements {
            guard case .array(let inner) = element, let ids = tokenIDs(inner) else { throw mismatch }
            batch.append(ids)
        }
        return DecodeRequest(ids: batch, skipSpecialTokens: try bool(members, "skip_special_tokens", default: true))
    }
}
