/// TEI's error kinds, each with its HTTP status; serialized with a capital initial as TEI's running code does.
package enum ErrorKind: String, Sendable, Equatable {
    case empty = "Empty"
    case validation = "Validation"
    case tokenizer = "Tokenizer"
    case overloaded = "Overloaded"
    case backend = "Backend"
    case unhealthy = "Unhealthy"

    /// The HTTP status TEI answers this kind with.
    package var status: Int {
        switch self {
        case .empty: 400
        case .validation, .tokenizer: 422
        case .overloaded: 429
        case .backend: 424
        case .unhealthy: 503
        }
    }

    /// The `err` label of `te_request_failure` for this kind.
    var metricLabel: String {
        switch self {
        case .empty, .validation: "validation"
        case .tokenizer: "tokenization"
        case .overloaded: "overloaded"
        case .backend: "inference"
        case .unhealthy: "unhealthy"
        }
    }
}

/// An error answered to the client: TEI's `{"error", "error_type"}` body, or OpenAI's `{"message", "code", "type"}`.
package struct APIError: Error, Sendable, Equatable {
    /// What kind of failure this is; decides the status.
    package var kind: ErrorKind
    /// The message, exactly as TEI words it.
    package var message: String
    /// Overrides the kind's status (JSON decoding failures: 400 for syntax, 422 for shape).
    package var statusOverride: Int?
    /// The `te_request_failure` label, when it differs from the kind's (e.g. `batch_size`).
    var metricLabelOverride: String?

    /// Creates an error of `kind` with TEI's `message`.
    package init(_ kind: ErrorKind, _ message: String, status: Int? = nil) {
        self.kind = kind
        self.message = message
        self.statusOverride = status
    }

    /// The HTTP status of the response.
    package var status: Int { statusOverride ?? kind.status }

    var metricLabel: String { metricLabelOverride ?? kind.metricLabel }

    /// TEI's body: `{"error": message, "error_type": kind}`.
    package var teiBody: [UInt8] {
        var json = JSONWriter()
        json.beginObject()
        json.key("error")
        json.string(message)
        json.key("error_type")
        json.string(kind.rawValue)
        json.endObject()
        return json.bytes
    }

    /// The OpenAI-compatible routes' body: `{"message": message, "code": status, "type": kind}`.
    package var openAIBody: [UInt8] {
        var json = JSONWriter()
        json.beginObject()
        json.key("message")
        json.string(message)
        json.key("code")
        json.integer(status)
        json.key("type")
        json.string(kind.rawValue)
        json.endObject()
        return json.bytes
    }
}

extension APIError {
    /// `Input validation error: <detail>`, TEI core's validation wording.
    static func inputValidation(_ detail: String) -> APIError {
        APIError(.validation, "Input validation error: \(detail)")
    }

    /// An empty input on an embedding route.
    static let emptyInput = APIError(.empty, "Input validation error: `inputs` cannot be empty")

    /// More inputs than `--max-client-batch-size`.
    static func batchSize(_ count: Int, maximum: Int) -> APIError {
        var error = APIError(.validation, "batch size \(count) > maximum allowed batch size \(maximum)")
        error.metricLabelOverride = "batch_size"
        return error
    }

    /// More tokens than the model accepts, with truncation off.
    static func tooManyTokens(_ count: Int, maximum: Int) -> APIError {
        var error = inputValidation("`inputs` must have less than \(maximum) tokens. Given: \(count)")
        error.kind = .validation
        error.metricLabelOverride = "tokenization"
        return error
    }

    /// More characters than `max_input_length × 250`, with truncation off.
    static func tooManyCharacters(_ count: Int, maximum: Int) -> APIError {
        var error = inputValidation("`inputs` must have less than \(maximum) characters. Given: \(count)")
        error.metricLabelOverride = "tokenization"
        return error
    }

    /// `/rerank` (or a Vertex instance shaped as a rerank request) on an embedding model or a classifier with
    /// several labels.
    static let notReranker = modelType(backend("model is not a re-ranker model"))

    /// `/predict` on an embedding model.
    static let notClassifier = modelType(backend("Model is not a classifier model"))

    /// An embedding route (`/embed`, `/v1/embeddings`, `/embed_all`, `/similarity`) on a classifier.
    static let notEmbeddingModel = modelType(backend("Model is not an embedding model"))

    /// `/rerank` without texts.
    static let emptyTexts = APIError(.empty, "`texts` cannot be empty")

    /// TEI counts a route the model does not serve under `te_request_failure{err="model_type"}`.
    private static func modelType(_ error: APIError) -> APIError {
        var error = error
        error.metricLabelOverride = "model_type"
        return error
    }

    /// No free concurrency permit.
    static let overloaded = APIError(.overloaded, "Model is overloaded")

    /// The encoder failed.
    static func backend(_ detail: String) -> APIError {
        APIError(.backend, "Backend error: \(detail)")
    }

    /// A request body that is not JSON: 400 with the parser's message (TEI's extractor wording).
    static func malformedJSON(_ detail: String) -> APIError {
        APIError(.validation, "Failed to parse the request body as JSON: \(detail)", status: 400)
    }

    private static let undecodablePrefix = "Failed to deserialize the JSON body into the target type: "

    /// JSON of the wrong shape or type: 422 with the decoder's message (TEI's extractor wording).
    static func undecodableJSON(_ detail: String) -> APIError {
        APIError(.validation, undecodablePrefix + detail)
    }

    /// The decoder's own message of an `undecodableJSON` error, without the body extractor's wording.
    var undecodableDetail: String? {
        message.hasPrefix(Self.undecodablePrefix) ? String(message.dropFirst(Self.undecodablePrefix.count)) : nil
    }

    /// A POST without `Content-Type: application/json`.
    static let unsupportedMediaType = APIError(
        .validation, "Expected request with `Content-Type: application/json`", status: 415)
}
