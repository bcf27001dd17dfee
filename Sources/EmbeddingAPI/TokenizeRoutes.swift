import Tokenizers

/// One token as `/tokenize` shows it: byte offsets into the prompt-prefixed input, none for special tokens.
struct DisplayToken: Sendable, Equatable {
    var id: Int32
    var text: String
    var special: Bool
    var start: Int?
    var stop: Int?
}

extension EmbeddingService {
    /// TEI's `/health`: healthy unless the last batch failed, in which case a one-token batch decides.
    func checkHealth() async -> Bool {
        if health.healthy.withLock({ $0 }) { return true }
        do {
            let probe = EncoderJob(ids: [1], output: .pooled)
            _ = try await batcher.submit([probe], tokenCounts: [1])
            return true
        } catch {
            return false
        }
    }

    /// `/tokenize`: the prompt applied, offsets converted from Unicode scalars to UTF-8 bytes. Unlike TEI, the
    /// request limits of the embedding routes apply (`--max-client-batch-size` inputs, each cut to or refused past the
    /// max input length as `truncate` says): without them a 2 MB body of 1,000 inputs answered with 136 MB of JSON.
    func tokenizeForDisplay(_ request: TokenizeRequest) async throws -> [[DisplayToken]] {
        if request.inputs.count > configuration.maxClientBatchSize {
            throw APIError.batchSize(request.inputs.count, maximum: configuration.maxClientBatchSize)
        }
        let maxLength = (request.truncate ?? configuration.autoTruncate) ? model.maxInputLength : nil
        return try await tokenizers.run { [self] () throws(APIError) -> [[DisplayToken]] in
            let prompt = try resolvePrompt(request.promptName)
            return try request.inputs.map { input throws(APIError) -> [DisplayToken] in
                if input.isEmpty { throw .emptyInput }
                let characters = input.unicodeScalars.count
                if characters > maxInputCharacters {
                    throw .tooManyCharacters(characters, maximum: maxInputCharacters)
                }
                let text = (prompt ?? "") + input
                let encoding: Encoding
                do {
                    encoding = try backend.tokenize(
                        text, addSpecialTokens: request.addSpecialTokens, maxLength: maxLength,
                        direction: request.truncationDirection)
                } catch {
                    throw APIError(.tokenizer, "tokenizer error \(error)")
                }
                if encoding.ids.count > model.maxInputLength {
                    throw .tooManyTokens(encoding.ids.count, maximum: model.maxInputLength)
                }
                return Self.displayTokens(encoding, of: text)
            }
        }
    }

    static func displayTokens(_ encoding: Encoding, of text: String) -> [DisplayToken] {
        let utf8 = Array(text.utf8)
        // byteOffsets[i] = UTF-8 offset of the i-th Unicode scalar; one extra entry for the end.
        var byteOffsets: [Int] = [0]
        byteOffsets.reserveCapacity(text.unicodeScalars.count + 1)
        for scalar in text.unicodeScalars { byteOffsets.append(byteOffsets.last! + UTF8.width(scalar)) }
        return encoding.ids.indices.map { index in
            let id = encoding.ids[index]
            if encoding.specialTokensMask[index] {
                return DisplayToken(id: id, text: encoding.tokens[index], special: true, start: nil, stop: nil)
            }
            let range = encoding.offsets[index]
            let start = byteOffsets[min(range.lowerBound, byteOffsets.count - 1)]
            let stop = byteOffsets[min(range.upperBound, byteOffsets.count - 1)]
            return DisplayToken(
                id: id, text: String(decoding: utf8[start..<stop], as: UTF8.self), special: false, start: start,
                stop: stop)
        }
    }

    /// `/decode`: one string per id list.
    func decode(_ request: DecodeRequest) async throws -> [String] {
        if request.ids.count > configuration.maxClientBatchSize {
            throw APIError.batchSize(request.ids.count, maximum: configuration.maxClientBatchSize)
        }
        return try await tokenizers.run { [self] () throws(APIError) -> [String] in
            try request.ids.map { ids throws(APIError) -> String in
                if ids.isEmpty { throw APIError(.empty, "Input validation error: `input_ids` cannot be empty") }
                do {
                    return try backend.decode(
                        ids.map { Int32(bitPattern: $0) }, skipSpecialTokens: request.skipSpecialTokens)
                } catch {
                    throw APIError(.tokenizer, "tokenizer error \(error)")
                }
            }
        }
    }
}
