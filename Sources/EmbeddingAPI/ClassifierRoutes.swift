import Batching
import Dispatch
import EmbeddingModel
import Embeddings
import Tokenizers

extension EmbeddingService {
    /// Counts a request refused before it reached the pipeline under `te_request_failure`, as TEI does.
    func failed(_ error: APIError) -> APIError {
        metrics.increment("te_request_failure", label: ("err", error.metricLabel))
        return error
    }

    /// Validates, tokenizes and runs a classifier's inputs (texts or pairs) in the shared batches; the outputs are
    /// the logits. `method` is TEI's `te_request_count` label: `single` for one `/predict` input, else `batch`.
    func predict(
        _ inputs: [PredictSequence], truncate: Bool?, direction: TruncationDirection, method: String
    ) async throws(APIError) -> EncodedBatch {
        try await counted(method: method) { () throws(APIError) in
            try await predictCounted(inputs, truncate: truncate ?? configuration.autoTruncate, direction)
        }
    }

    private func predictCounted(
        _ inputs: [PredictSequence], truncate: Bool, _ direction: TruncationDirection
    ) async throws(APIError) -> EncodedBatch {
        let start = DispatchTime.now().uptimeNanoseconds
        if inputs.count > configuration.maxClientBatchSize {
            throw .batchSize(inputs.count, maximum: configuration.maxClientBatchSize)
        }
        guard model.labels != nil else { throw .notClassifier }
        let permits: PermitReservation
        do {
            permits = try batcher.reservePermits(inputs.count)
        } catch {
            throw .overloaded
        }
        let bytes = inputs.reduce(0) { total, input in
            switch input {
            case .single(let text): total + text.utf8.count
            case .pair(let first, let second): total + first.utf8.count + second.utf8.count
            }
        }
        let prepared: [PreparedInput]
        if bytes <= Self.inlineTokenizationBytes {
            prepared = try inputs.map { input throws(APIError) in try prepare(input, truncate: truncate, direction) }
        } else {
            do {
                prepared = try await tokenizers.run { [self] () throws(APIError) -> [PreparedInput] in
                    try inputs.map { input throws(APIError) in try prepare(input, truncate: truncate, direction) }
                }
            } catch let error as APIError {
                throw error
            } catch {
                throw .backend("\(error)")
            }
        }
        return try await submit(
            prepared.map { EncoderJob(ids: $0.ids, output: .logits, typeIDs: $0.typeIDs) }, permits: permits,
            characters: inputs.reduce(0) { $0 + $1.characterCount }, metric: "te_predict", start: start,
            tokenized: DispatchTime.now().uptimeNanoseconds)
    }

    /// TEI's tokenization of a classifier input: empty only when every text is; past the character limit each
    /// text of a pair keeps half of it; the server's default prompt goes in front of a single text and refuses a
    /// pair; a pair is cut `longest_first`.
    private func prepare(
        _ input: PredictSequence, truncate: Bool, _ direction: TruncationDirection
    ) throws(APIError) -> PreparedInput {
        var input = input
        switch input {
        case .single(""), .pair("", ""): throw .emptyInput
        default: break
        }
        let characters = input.characterCount
        if characters > maxInputCharacters {
            guard truncate else { throw .tooManyCharacters(characters, maximum: maxInputCharacters) }
            switch input {
            case .single(let text): input = .single(Self.cut(text, toBytes: maxInputCharacters))
            case .pair(let first, let second):
                input = .pair(
                    Self.cut(first, toBytes: maxInputCharacters / 2), Self.cut(second, toBytes: maxInputCharacters / 2))
            }
        }
        let maxLength = truncate ? model.maxInputLength : nil
        let encoding: Encoding
        switch input {
        case .single(let text):
            encoding = try tokenized {
                try backend.tokenize(
                    PromptCatalog.apply(defaultPrompt, to: text), addSpecialTokens: true, maxLength: maxLength,
                    direction: direction)
            }
        case .pair(let first, let second):
            if defaultPrompt != nil { throw .inputValidation("`prompt_name` cannot be set with dual inputs") }
            encoding = try tokenized {
                try backend.tokenize(first, pair: second, maxLength: maxLength, direction: direction)
            }
        }
        if encoding.ids.count > model.maxInputLength {
            throw .tooManyTokens(encoding.ids.count, maximum: model.maxInputLength)
        }
        if let outside = encoding.ids.first(where: { $0 < 0 || Int($0) >= model.vocabularySize }) {
            throw .inputValidation(
                "token id \(outside) is outside the model's vocabulary of \(model.vocabularySize) tokens")
        }
        return PreparedInput(ids: encoding.ids, typeIDs: encoding.typeIDs)
    }

    private func tokenized(_ work: () throws -> Encoding) throws(APIError) -> Encoding {
        do {
            return try work()
        } catch {
            throw APIError(.tokenizer, "tokenizer error \(error)")
        }
    }
}

extension APIRouter {
    /// `/predict`: per input, every label with its score (softmax, sigmoid for one label, or the logits with
    /// `raw_scores`), highest first; a single input answers one list, a batch a list per input.
    func predictResponse(_ request: PredictRequest) async throws(APIError) -> ([UInt8], EncodedBatch) {
        let batch = try await service.predict(
            request.inputs, truncate: request.truncate, direction: request.truncationDirection,
            method: request.isBatch ? "batch" : "single")
        let labels = service.model.labels ?? []
        var json = JSONWriter()
        if request.isBatch { json.beginArray() }
        for logits in batch.outputs {
            let scores = request.rawScores ? logits : classificationScores(logits)
            json.beginArray()
            for index in Self.descending(scores) {
                json.beginObject()
                json.key("score")
                json.float(scores[index])
                json.key("label")
                json.string(index < labels.count ? labels[index] : "LABEL_\(index)")
                json.endObject()
            }
            json.endArray()
        }
        if request.isBatch { json.endArray() }
        return (json.bytes, batch)
    }

    /// `/rerank`: the score of each (query, text) pair with its index (and text if asked), highest first. Only for
    /// a reranker, a classifier with one label.
    func rerankResponse(_ request: RerankRequest) async throws(APIError) -> ([UInt8], EncodedBatch) {
        if request.texts.isEmpty { throw service.failed(.emptyTexts) }
        guard service.model.isReranker else { throw service.failed(.notReranker) }
        let batch = try await service.predict(
            request.texts.map { .pair(request.query, $0) }, truncate: request.truncate,
            direction: request.truncationDirection, method: "batch")
        let scores = batch.outputs.map { (request.rawScores ? $0 : classificationScores($0))[0] }
        var json = JSONWriter()
        json.beginArray()
        for index in Self.descending(scores) {
            json.beginObject()
            json.key("index")
            json.integer(index)
            if request.returnText {
                json.key("text")
                json.string(request.texts[index])
            }
            json.key("score")
            json.float(scores[index])
            json.endObject()
        }
        json.endArray()
        return (json.bytes, batch)
    }

    /// Indices by score, highest first; equal scores in reverse index order, as TEI's stable ascending sort followed
    /// by a reversal leaves them.
    static func descending(_ scores: [Float]) -> [Int] {
        scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 > $1 }
    }
}
