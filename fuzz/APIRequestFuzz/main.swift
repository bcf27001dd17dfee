// libFuzzer harness for the API's request bodies, built by `scripts/check/fuzz api-json` with EmbeddingAPI's
// JSON.swift, Requests.swift and APIError.swift over the JSON and Tokenizers modules (-O, as in the release build).
//
// Each input is a request body, fed to:
// - JSONParser.parse (the JSON module's reader, TEI's wording): no crash; a parsed value written back as JSON (this
//   file's writer: the modules have no JSONValue encoder) parses to the same value, integer-literal flags included;
//   a syntax error's line and column lie inside the body (or just past its end);
// - every RequestDecoder (embed, vertex for an embedding model and a classifier, embed_all, OpenAI embeddings,
//   similarity, tokenize, decode, predict, rerank): no crash; a
//   failure is a 400 (syntax) or a 422 (shape); a request that decodes, encoded again with the module's JSONWriter
//   (this file's encoders, written from the decoders' rules), decodes to the same request.

import JSON

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let body = Array(UnsafeBufferPointer(start: data, count: size))
    checkValueRoundTrip(body)
    roundTrip("embed", body, RequestDecoder.embed, encodeEmbed)
    roundTrip("vertex", body, { body throws(APIError) in try RequestDecoder.vertex(body) }, encodeVertex)
    roundTrip(
        "vertex-classifier", body, { body throws(APIError) in try RequestDecoder.vertex(body, classifier: true) },
        encodeVertex)
    roundTrip("embed_all", body, RequestDecoder.embedAll, encodeEmbedAll)
    roundTrip("openai", body, RequestDecoder.openAI, encodeOpenAI)
    roundTrip("similarity", body, RequestDecoder.similarity, encodeSimilarity)
    roundTrip("tokenize", body, RequestDecoder.tokenize, encodeTokenize)
    roundTrip("decode", body, RequestDecoder.decode, encodeDecode)
    roundTrip("predict", body, RequestDecoder.predict, encodePredict)
    roundTrip("rerank", body, RequestDecoder.rerank, encodeRerank)
    return 0
}

private func roundTrip<T: Equatable>(_ name: String, _ body: [UInt8], _ decode: ([UInt8]) throws(APIError) -> T,
                                     _ encode: (T, inout JSONWriter) -> Void) {
    let request: T
    do {
        request = try decode(body)
    } catch {
        fuzzCheck(error.status == 400 || error.status == 422, "\(name): a decoding error answers \(error.status): \(error.message)")
        return
    }
    var writer = JSONWriter()
    encode(request, &writer)
    do {
        let again = try decode(writer.bytes)
        fuzzCheck(again == request, "\(name): \(request) re-encoded as \(String(decoding: writer.bytes, as: UTF8.self)) decodes as \(again)")
    } catch {
        fuzzFail("\(name): \(request) re-encoded as \(String(decoding: writer.bytes, as: UTF8.self)) does not decode: \(error.message)")
    }
}

// MARK: JSONValue

private func checkValueRoundTrip(_ body: [UInt8]) {
    let value: JSONValue
    do {
        value = try JSONParser.parse(body)
    } catch {
        let lines = body.reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
        fuzzCheck(error.line >= 1 && error.line <= lines && error.column >= 0 && error.column <= body.count + 1,
                  "\(error) is outside the \(body.count)-byte body of \(lines) lines")
        return
    }
    var text: [UInt8] = []
    write(value, into: &text)
    do {
        let again = try JSONParser.parse(text)
        fuzzCheck(again == value, "\(value) written as \(String(decoding: text.prefix(300), as: UTF8.self)) parses as \(again)")
    } catch {
        fuzzFail("\(value) written as \(String(decoding: text.prefix(300), as: UTF8.self)) does not parse: \(error)")
    }
}

private func write(_ value: JSONValue, into out: inout [UInt8]) {
    switch value {
    case .null: out += "null".utf8
    case .bool(let flag): out += (flag ? "true" : "false").utf8
    case .number(let number, let integral):
        if integral {
            // An integer literal: its exact digits (Double's integers are exact); beyond Double's range, any
            // literal that overflows to the same infinity.
            out += (number.isInfinite ? (number < 0 ? "-1" : "1") + String(repeating: "0", count: 400) : exactIntegerDigits(number)).utf8
        } else if number.isInfinite {
            out += (number < 0 ? "-1e999" : "1e999").utf8
        } else {
            out += number.description.utf8  // always has a "." or an "e", so it stays a non-integer literal
        }
    case .string(let string):
        var writer = JSONWriter()
        writer.string(string)
        out += writer.bytes
    case .array(let elements):
        out.append(UInt8(ascii: "["))
        for (i, element) in elements.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            write(element, into: &out)
        }
        out.append(UInt8(ascii: "]"))
    case .object(let members):
        out.append(UInt8(ascii: "{"))
        for (i, (key, element)) in members.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            var writer = JSONWriter()
            writer.key(key)
            out += writer.bytes
            write(element, into: &out)
        }
        out.append(UInt8(ascii: "}"))
    }
}

/// The decimal digits of an integral Double, exactly (up to 309 digits).
private func exactIntegerDigits(_ value: Double) -> String {
    if abs(value) < 9.0e18 { return String(Int64(value)) }
    var digits: [UInt8] = []  // little-endian base 10
    var significand = value.significandBitPattern | (1 << 52)
    while significand > 0 {
        digits.append(UInt8(significand % 10))
        significand /= 10
    }
    for _ in 0..<(Int(value.exponent) - 52) {
        var carry: UInt8 = 0
        for i in digits.indices {
            let doubled = digits[i] * 2 + carry
            digits[i] = doubled % 10
            carry = doubled / 10
        }
        if carry > 0 { digits.append(carry) }
    }
    return (value < 0 ? "-" : "") + String(decoding: digits.reversed().map { $0 + 0x30 }, as: UTF8.self)
}

// MARK: Requests, written by the decoders' rules

private func encodeInputs(_ inputs: [EmbedInput], _ json: inout JSONWriter) {
    // A lone text is a string and lone ids a flat array (an array of integers always decodes as ONE input).
    if inputs.count == 1 {
        switch inputs[0] {
        case .text(let text): json.string(text)
        case .ids(let ids): encodeIDs(ids, &json)
        }
        return
    }
    json.beginArray()
    for input in inputs {
        switch input {
        case .text(let text): json.string(text)
        case .ids(let ids): encodeIDs(ids, &json)
        }
    }
    json.endArray()
}

private func encodeIDs(_ ids: [UInt32], _ json: inout JSONWriter) {
    json.beginArray()
    for id in ids { json.integer(id) }
    json.endArray()
}

private func encodeTruncation(truncate: Bool?, direction: TruncationDirection, promptName: String?, _ json: inout JSONWriter) {
    json.key("truncate")
    if let truncate { json.bool(truncate) } else { json.null() }
    json.key("truncation_direction")
    json.string(direction.rawValue)
    json.key("prompt_name")
    json.stringOrNull(promptName)
}

/// The members `/predict` and `/rerank` share.
private func encodeScoring(truncate: Bool?, direction: TruncationDirection, rawScores: Bool, _ json: inout JSONWriter) {
    json.key("truncate")
    if let truncate { json.bool(truncate) } else { json.null() }
    json.key("truncation_direction")
    json.string(direction.rawValue)
    json.key("raw_scores")
    json.bool(rawScores)
}

private func encodeEmbedMembers(_ request: EmbedRequest, _ json: inout JSONWriter) {
    json.key("inputs")
    encodeInputs(request.inputs, &json)
    encodeTruncation(truncate: request.truncate, direction: request.truncationDirection, promptName: request.promptName, &json)
    json.key("normalize")
    json.bool(request.normalize)
    json.key("dimensions")
    json.integerOrNull(request.dimensions)
}

private func encodeEmbed(_ request: EmbedRequest, _ json: inout JSONWriter) {
    json.beginObject()
    encodeEmbedMembers(request, &json)
    json.endObject()
}

private func encodeVertex(_ instances: [VertexInstance], _ json: inout JSONWriter) {
    json.beginObject()
    json.key("instances")
    json.beginArray()
    for instance in instances {
        json.beginObject()
        switch instance {
        case .embed(let request): encodeEmbedMembers(request, &json)
        case .rerank(let request): encodeRerankMembers(request, &json)
        case .predict(let request): encodePredictMembers(request, &json)
        }
        json.endObject()
    }
    json.endArray()
    json.endObject()
}

private func encodeTexts(_ texts: [String], _ json: inout JSONWriter) {
    json.beginArray()
    for text in texts { json.string(text) }
    json.endArray()
}

private func encodePredictMembers(_ request: PredictRequest, _ json: inout JSONWriter) {
    func texts(_ sequence: PredictSequence) -> [String] {
        switch sequence {
        case .single(let text): [text]
        case .pair(let first, let second): [first, second]
        }
    }
    json.key("inputs")
    if request.isBatch {
        json.beginArray()
        for sequence in request.inputs { encodeTexts(texts(sequence), &json) }
        json.endArray()
    } else if case .single(let text) = request.inputs[0] {
        json.string(text)
    } else {
        encodeTexts(texts(request.inputs[0]), &json)
    }
    encodeScoring(truncate: request.truncate, direction: request.truncationDirection, rawScores: request.rawScores, &json)
}

private func encodePredict(_ request: PredictRequest, _ json: inout JSONWriter) {
    json.beginObject()
    encodePredictMembers(request, &json)
    json.endObject()
}

private func encodeRerankMembers(_ request: RerankRequest, _ json: inout JSONWriter) {
    json.key("query")
    json.string(request.query)
    json.key("texts")
    encodeTexts(request.texts, &json)
    encodeScoring(truncate: request.truncate, direction: request.truncationDirection, rawScores: request.rawScores, &json)
    json.key("return_text")
    json.bool(request.returnText)
}

private func encodeRerank(_ request: RerankRequest, _ json: inout JSONWriter) {
    json.beginObject()
    encodeRerankMembers(request, &json)
    json.endObject()
}

private func encodeEmbedAll(_ request: EmbedAllRequest, _ json: inout JSONWriter) {
    json.beginObject()
    json.key("inputs")
    encodeInputs(request.inputs, &json)
    encodeTruncation(truncate: request.truncate, direction: request.truncationDirection, promptName: request.promptName, &json)
    json.endObject()
}

private func encodeOpenAI(_ request: OpenAIEmbeddingsRequest, _ json: inout JSONWriter) {
    json.beginObject()
    json.key("input")
    encodeInputs(request.input, &json)
    json.key("model")
    json.stringOrNull(request.model)
    json.key("encoding_format")
    json.string(request.encodingFormat.rawValue)
    json.key("dimensions")
    json.integerOrNull(request.dimensions)
    json.key("user")
    json.stringOrNull(request.user)
    json.key("prompt_name")
    json.stringOrNull(request.promptName)
    json.key("normalize")
    json.bool(request.normalize)
    json.endObject()
}

private func encodeSimilarity(_ request: SimilarityRequest, _ json: inout JSONWriter) {
    json.beginObject()
    json.key("inputs")
    json.beginObject()
    json.key("source_sentence")
    json.string(request.sourceSentence)
    json.key("sentences")
    json.beginArray()
    for sentence in request.sentences { json.string(sentence) }
    json.endArray()
    json.endObject()
    json.key("parameters")
    json.beginObject()
    encodeTruncation(truncate: request.truncate, direction: request.truncationDirection, promptName: request.promptName, &json)
    json.endObject()
    json.endObject()
}

private func encodeTokenize(_ request: TokenizeRequest, _ json: inout JSONWriter) {
    json.beginObject()
    json.key("inputs")
    if !request.isBatch, request.inputs.count == 1 {
        json.string(request.inputs[0])
    } else {
        json.beginArray()
        for input in request.inputs { json.string(input) }
        json.endArray()
    }
    json.key("add_special_tokens")
    json.bool(request.addSpecialTokens)
    encodeTruncation(truncate: request.truncate, direction: request.truncationDirection, promptName: request.promptName, &json)
    json.endObject()
}

private func encodeDecode(_ request: DecodeRequest, _ json: inout JSONWriter) {
    json.beginObject()
    json.key("ids")
    if request.ids.count == 1 {
        encodeIDs(request.ids[0], &json)
    } else {
        json.beginArray()
        for ids in request.ids { encodeIDs(ids, &json) }
        json.endArray()
    }
    json.key("skip_special_tokens")
    json.bool(request.skipSpecialTokens)
    json.endObject()
}
