import Dispatch
import Foundation
import HTTPServer

/// What the router reports about one finished request.
package struct RequestLogRecord: Sendable, Equatable {
    package var method: String
    package var path: String
    package var status: Int
    package var durationMilliseconds: Double
    package var requestID: String
    /// Tokens computed, for the embedding routes that succeeded.
    package var tokens: Int?

    /// A record of a finished request.
    package init(
        method: String, path: String, status: Int, durationMilliseconds: Double, requestID: String, tokens: Int?
    ) {
        self.method = method
        self.path = path
        self.status = status
        self.durationMilliseconds = durationMilliseconds
        self.requestID = requestID
        self.tokens = tokens
    }
}

/// Routes HTTP requests to TEI's and OpenAI's endpoints, with TEI's authentication, errors and headers.
package struct APIRouter: Sendable {
    /// The pipeline behind the routes.
    package let service: EmbeddingService
    /// Called once per finished request; the executable turns records into log lines.
    package let requestLog: (@Sendable (RequestLogRecord) -> Void)?

    /// Serves `service`, reporting each finished request to `requestLog` when given.
    package init(service: EmbeddingService, requestLog: (@Sendable (RequestLogRecord) -> Void)? = nil) {
        self.service = service
        self.requestLog = requestLog
    }

    private enum Route {
        case health, metrics, info, openAPI, docs, models
        case embed, openAIEmbeddings, embedAll, similarity, tokenize, decode
        case embedSparse, predict, rerank, vertex

        /// Routes TEI guards with `--api-key`.
        var isProtected: Bool {
            switch self {
            case .health, .metrics, .openAPI, .docs: false
            default: true
            }
        }
    }

    /// GET (and HEAD) routes by path, built once for the process.
    private static let getRoutes: [String: Route] = [
        "/health": .health, "/": .health, "/ping": .health, "/metrics": .metrics, "/info": .info,
        "/openapi.json": .openAPI, "/api-doc/openapi.json": .openAPI, "/docs": .docs, "/docs/": .docs,
        "/v1/models": .models,
    ]

    /// POST routes by path, built once for the process.
    private static let postRoutes: [String: Route] = [
        "/embed": .embed, "/": .embed, "/invocations": .embed, "/v1/embeddings": .openAIEmbeddings,
        "/embeddings": .openAIEmbeddings, "/embed_all": .embedAll, "/similarity": .similarity,
        "/tokenize": .tokenize, "/decode": .decode, "/embed_sparse": .embedSparse, "/predict": .predict,
        "/rerank": .rerank, "/vertex": .vertex,
    ]

    /// Which route a method and path select: nil path = 404, nil route for a known path = 405.
    private static func route(method: String, path: String) -> Route?? {
        switch method {
        case "GET", "HEAD": if let route = getRoutes[path] { return .some(route) }
        case "POST": if let route = postRoutes[path] { return .some(route) }
        default: break
        }
        return getRoutes[path] != nil || postRoutes[path] != nil ? .some(nil) : nil
    }

    /// Answers one request; never throws: every failure is a TEI-shaped response.
    package func handle(_ request: HTTPRequest) async -> HTTPResponse {
        let start = DispatchTime.now().uptimeNanoseconds
        let requestID = request.header("x-request-id").flatMap(Self.acceptedRequestID) ?? Self.generatedRequestID()
        let answer: RouteAnswer
        if Self.answersInline(request) {
            answer = await respond(request)
        } else {
            answer = await withTaskExecutorPreference(globalConcurrentExecutor) { await respond(request) }
        }
        var response = answer.response
        response.headers.replaceOrAdd(name: "x-request-id", value: requestID)
        if let requestLog {
            // Cancelled: the connection closed before the answer (the client left, or shutdown outlasted its
            // grace), so nobody receives it; nginx logs that as 499.
            let record = RequestLogRecord(
                method: request.method, path: request.path, status: Task.isCancelled ? 499 : response.status,
                durationMilliseconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6,
                requestID: requestID, tokens: answer.computeTokens)
            // After the response is sent: the line took 0.12 ms to format and write after a forward pass (whose
            // 1.2 GB of weights leave the caches cold), all on a lone query's time when done before.
            response.afterSend = { requestLog(record) }
        }
        return response
    }

    /// Bodies up to this size are parsed where `handle` runs: 16 KB of JSON parse in about 0.1 ms (64 KB took 0.43).
    static let inlineBodyBytes = 16 << 10

    /// Responses up to this size are formatted where `handle` runs: 7 vectors of 768 floats, about 0.2 ms.
    static let inlineResponseBytes = 64 << 10

    /// Whether a request is answered on the executor `handle` was called on (the connection's event loop, when the
    /// server runs handlers there): probes, errors and embedding requests with small bodies, whose own work besides
    /// the encoder is tens of µs (a lone query's two hops through the cooperative pool cost more than that). Other
    /// routes, and larger bodies, move to the global concurrent executor, so that parsing a 2 MB body or rendering
    /// `/tokenize`'s JSON never holds the other connections of that loop.
    static func answersInline(_ request: HTTPRequest) -> Bool {
        guard let found = route(method: request.method, path: request.path), let route = found else { return true }
        switch route {
        case .health, .info, .models: return true
        case .embed, .openAIEmbeddings: return request.body.count <= inlineBodyBytes
        default: return false
        }
    }

    /// A client's `x-request-id` if it is 1 to 128 bytes of visible ASCII, else nil: it is echoed and logged, so
    /// its size is bounded and it can hold no spaces, quotes or line breaks (128 fits any UUID, ULID or trace id).
    /// A random (version 4) UUID in lowercase, from two draws of the system generator (getrandom(2) on Linux):
    /// Foundation's `UUID()` opened, read and closed /dev/urandom for each request, 18 µs of a lone query's loop time
    /// on the 2-core Zen 3 VM.
    static func generatedRequestID() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = (generator.next() as UInt64) & ~0xF000 | 0x4000
        let low = (generator.next() as UInt64) & ~(0xC << 60) | (0x8 << 60)
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(36)
        for (index, word) in [high, low].enumerated() {
            for nibble in 0..<16 {
                let position = index * 16 + nibble
                if position == 8 || position == 12 || position == 16 || position == 20 {
                    text.append(UInt8(ascii: "-"))
                }
                text.append(digits[Int(word >> UInt64(60 - 4 * nibble) & 0xF)])
            }
        }
        return String(decoding: text, as: UTF8.self)
    }

    static func acceptedRequestID(_ id: String) -> String? {
        let bytes = id.utf8
        guard (1...128).contains(bytes.count), bytes.allSatisfy({ (0x21...0x7E).contains($0) }) else { return nil }
        return id
    }

    /// Renders the server's own errors (bad HTTP, payload too large, time-outs) in TEI's error shape.
    package static let errorResponder: HTTPErrorResponder = { error in
        let kind: ErrorKind =
            switch error.status {
            case 503: .unhealthy
            case 429: .overloaded
            case 500...: .backend
            default: .validation
            }
        return HTTPResponse.json(APIError(kind, error.message, status: error.status).teiBody, status: error.status)
    }

    private func respond(_ request: HTTPRequest) async -> RouteAnswer {
        guard let found = Self.route(method: request.method, path: request.path) else {
            return RouteAnswer(HTTPResponse(status: 404))
        }
        guard let route = found else { return RouteAnswer(HTTPResponse(status: 405)) }
        if route.isProtected, let key = service.configuration.apiKey, !Self.authorized(request, key: key) {
            return RouteAnswer(HTTPResponse(status: 401))
        }
        let openAI = route == .openAIEmbeddings
        if request.method == "POST" && !Self.isJSON(request.header("content-type")) {
            return RouteAnswer(errorResponse(.unsupportedMediaType, openAI: openAI))
        }
        do {
            switch route {
            case .health: return RouteAnswer(await health())
            case .metrics:
                return RouteAnswer(
                    HTTPResponse(
                        status: 200, headers: ["Content-Type": "text/plain; charset=utf-8"],
                        body: Array(service.metrics.render().utf8)))
            case .info: return RouteAnswer(.json(info()))
            case .openAPI: return RouteAnswer(.json(OpenAPIDocument.json))
            case .docs:
                return RouteAnswer(
                    HTTPResponse(
                        status: 200, headers: ["Content-Type": "text/html; charset=utf-8"],
                        body: Array(OpenAPIDocument.docsPage.utf8)))
            case .models: return RouteAnswer(.json(models()))
            case .embed: return try await embed(request.body)
            case .openAIEmbeddings: return try await openAIEmbeddings(request.body)
            case .embedAll: return try await embedAll(request.body)
            case .similarity: return try await similarity(request.body)
            case .tokenize: return RouteAnswer(try await tokenize(request.body))
            case .decode: return RouteAnswer(try await decode(request.body))
            case .embedSparse:
                throw APIError.backend("Model is not an embedding model with SPLADE pooling")
            case .predict: return try await predict(request.body)
            case .rerank: return try await rerank(request.body)
            case .vertex: return RouteAnswer(try await vertex(request.body))
            }
        } catch let error as APIError {
            return RouteAnswer(errorResponse(error, openAI: openAI))
        } catch {
            return RouteAnswer(errorResponse(.backend("\(error)"), openAI: openAI))
        }
    }

    private func errorResponse(_ error: APIError, openAI: Bool) -> HTTPResponse {
        .json(openAI ? error.openAIBody : error.teiBody, status: error.status)
    }

    /// `Authorization: Bearer <key>`, compared in time independent of where the first difference is.
    static func authorized(_ request: HTTPRequest, key: String) -> Bool {
        let given = Array((request.header("authorization") ?? "").utf8)
        let expected = Array("Bearer \(key)".utf8)
        var difference = UInt8(given.count == expected.count ? 0 : 1)
        for index in expected.indices {
            difference |= expected[index] ^ (index < given.count ? given[index] : 0)
        }
        return difference == 0
    }

    /// `application/json`, with or without parameters (`; charset=utf-8`), as axum's JSON extractor accepts.
    ///
    /// Byte by byte, on the event loop: through Foundation's `trimmingCharacters` and `lowercased` it took 14 µs of
    /// a lone query's loop time on the 2-core Zen 3 VM. Blanks around the media type are HTTP's (space and tab).
    static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        var mediaType = contentType.utf8.prefix { $0 != UInt8(ascii: ";") }[...]
        while let first = mediaType.first, first == 0x20 || first == 0x09 { mediaType = mediaType.dropFirst() }
        while let last = mediaType.last, last == 0x20 || last == 0x09 { mediaType = mediaType.dropLast() }
        func lowercased(_ byte: UInt8) -> UInt8 { (0x41...0x5A).contains(byte) ? byte | 0x20 : byte }
        func hasPrefix(_ prefix: StaticString) -> Bool {
            mediaType.count >= prefix.utf8CodeUnitCount
                && zip(mediaType, UnsafeBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount))
                    .allSatisfy { lowercased($0) == $1 }
        }
        if hasPrefix("application/json") && mediaType.count == 16 { return true }
        guard hasPrefix("application/"), mediaType.count >= 17 else { return false }
        return zip(mediaType.suffix(5), "+json".utf8).allSatisfy { lowercased($0) == $1 }
    }

    // MARK: - Routes

    private func health() async -> HTTPResponse {
        if await service.checkHealth() { return HTTPResponse(status: 200) }
        return .json(APIError(.unhealthy, "unhealthy").teiBody, status: 503)
    }

    private func embed(_ body: [UInt8]) async throws -> RouteAnswer {
        let request = try RequestDecoder.embed(body)
        let start = DispatchTime.now().uptimeNanoseconds
        let (json, batch) = try await embedResponse(request)
        return success(json, batch: batch, start: start)
    }

    /// `/embed`'s body for one request: one array of floats per input.
    private func embedResponse(_ request: EmbedRequest) async throws(APIError) -> ([UInt8], EncodedBatch) {
        let batch = try await service.encode(
            request.inputs, promptName: request.promptName, truncate: request.truncate,
            direction: request.truncationDirection,
            output: .pooled(dimensions: request.dimensions, normalize: request.normalize))
        let capacity = batch.outputs.count * service.model.embeddingDimensions * 12 + 8
        let body = await Self.encodingJSON(ofBytes: capacity) {
            var json = JSONWriter(reservingCapacity: capacity)
            json.beginArray()
            for vector in batch.outputs { json.floats(vector) }
            json.endArray()
            return json.bytes
        }
        return (body, batch)
    }

    private func predict(_ body: [UInt8]) async throws -> RouteAnswer {
        let request = try RequestDecoder.predict(body)
        let start = DispatchTime.now().uptimeNanoseconds
        let (json, batch) = try await predictResponse(request)
        return success(json, batch: batch, start: start)
    }

    private func rerank(_ body: [UInt8]) async throws -> RouteAnswer {
        let request = try RequestDecoder.rerank(body)
        let start = DispatchTime.now().uptimeNanoseconds
        let (json, batch) = try await rerankResponse(request)
        return success(json, batch: batch, start: start)
    }

    /// Runs `encode` where the handler runs when its JSON is at most `inlineResponseBytes`, else on Dispatch's
    /// utility threads, so that formatting 32 vectors (0.8 ms) does not hold the event loop's other connections.
    private static func encodingJSON(
        ofBytes bytes: Int, _ encode: @escaping @Sendable () -> [UInt8]
    ) async -> [UInt8] {
        bytes <= inlineResponseBytes ? encode() : await offloaded(encode)
    }

    /// TEI's Vertex AI route: each instance is a `/rerank`, `/predict` or `/embed` request of its own (own
    /// batch-size limit, permits and metrics), all run concurrently; the predictions are their bodies in order, or
    /// the first error in instance order. No timing headers, as in TEI.
    private func vertex(_ body: [UInt8]) async throws -> HTTPResponse {
        let instances = try RequestDecoder.vertex(body, classifier: service.model.labels != nil)
        let results = await withTaskGroup(of: (Int, Result<[UInt8], APIError>).self) { group in
            for (index, instance) in instances.enumerated() {
                group.addTask { [self] in
                    do throws(APIError) {
                        switch instance {
                        case .embed(let request): return (index, .success(try await embedResponse(request).0))
                        case .rerank(let request): return (index, .success(try await rerankResponse(request).0))
                        case .predict(let request): return (index, .success(try await predictResponse(request).0))
                        }
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            var results = [Result<[UInt8], APIError>](repeating: .success([]), count: instances.count)
            for await (index, result) in group { results[index] = result }
            return results
        }
        var json = JSONWriter(reservingCapacity: results.reduce(32) { $0 + ((try? $1.get().count) ?? 0) })
        json.beginObject()
        json.key("predictions")
        json.beginArray()
        for result in results { json.raw(try result.get()) }
        json.endArray()
        json.endObject()
        return .json(json.bytes)
    }

    private func openAIEmbeddings(_ body: [UInt8]) async throws -> RouteAnswer {
        let request = try RequestDecoder.openAI(body)
        let start = DispatchTime.now().uptimeNanoseconds
        let batch = try await service.encode(
            request.input, promptName: request.promptName, truncate: nil, direction: .right,
            output: .pooled(dimensions: request.dimensions, normalize: request.normalize))
        let modelName = service.model.servedModelName
        let capacity = batch.outputs.count * service.model.embeddingDimensions * 12 + 200
        let body = await Self.encodingJSON(ofBytes: capacity) {
            var json = JSONWriter(reservingCapacity: capacity)
            json.beginObject()
            json.key("object")
            json.string("list")
            json.key("data")
            json.beginArray()
            for (index, vector) in batch.outputs.enumerated() {
                json.beginObject()
                json.key("object")
                json.string("embedding")
                json.key("embedding")
                switch request.encodingFormat {
                case .float: json.floats(vector)
                case .base64: json.string(Self.base64LittleEndian(vector))
                }
                json.key("index")
                json.integer(index)
                json.endObject()
            }
            json.endArray()
            json.key("model")
            json.string(modelName)
            let tokens = batch.tokenCounts.reduce(0, +)
            json.key("usage")
            json.beginObject()
            json.key("prompt_tokens")
            json.integer(tokens)
            json.key("total_tokens")
            json.integer(tokens)
            json.endObject()
            json.endObject()
            return json.bytes
        }
        return success(body, batch: batch, start: start)
    }

    /// The standard base64 (with padding) of the vector's little-endian IEEE-754 binary32 bytes.
    static func base64LittleEndian(_ vector: [Float]) -> String {
        var bytes = [UInt8]()
        bytes.reserveCapacity(vector.count * 4)
        for value in vector {
            let bits = value.bitPattern.littleEndian
            withUnsafeBytes(of: bits) { bytes.append(contentsOf: $0) }
        }
        return Data(bytes).base64EncodedString()
    }

    private func embedAll(_ body: [UInt8]) async throws -> RouteAnswer {
        let request = try RequestDecoder.embedAll(body)
        let start = DispatchTime.now().uptimeNanoseconds
        let batch = try await service.encode(
            request.inputs, promptName: request.promptName, truncate: request.truncate,
            direction: request.truncationDirection, output: .tokenLevel)
        let hidden = service.model.hiddenSize
        let body = await offloaded {
            var json = JSONWriter(reservingCapacity: batch.tokenCounts.reduce(0, +) * hidden * 12 + 8)
            json.beginArray()
            for matrix in batch.outputs { // [tokens × hidden] each
                json.beginArray()
                for row in stride(from: 0, to: matrix.count, by: hidden) {
                    json.floats(matrix[row..<min(row + hidden, matrix.count)])
                }
                json.endArray()
            }
            json.endArray()
            return json.bytes
        }
        return success(body, batch: batch, start: start)
    }

    private func similarity(_ body: [UInt8]) async throws -> RouteAnswer {
        let request = try RequestDecoder.similarity(body)
        let start = DispatchTime.now().uptimeNanoseconds
        if request.sentences.isEmpty { throw APIError(.empty, "`inputs.sentences` cannot be empty") }
        let maximum = service.configuration.maxClientBatchSize
        if request.sentences.count + 1 > maximum {
            throw APIError.batchSize(request.sentences.count + 1, maximum: maximum)
        }
        let inputs = [EmbedInput.text(request.sourceSentence)] + request.sentences.map { .text($0) }
        let batch = try await service.encode(
            inputs, promptName: request.promptName, truncate: request.truncate,
            direction: request.truncationDirection, output: .pooled(dimensions: nil, normalize: false))
        let source = batch.outputs[0]
        var json = JSONWriter()
        json.beginArray()
        for vector in batch.outputs.dropFirst() { json.float(Self.cosine(source, vector)) }
        json.endArray()
        return success(json.bytes, batch: batch, start: start)
    }

    /// Cosine similarity accumulated in Float64.
    static func cosine(_ a: [Float], _ b: [Float]) -> Float {
        var dot = 0.0
        var normA = 0.0
        var normB = 0.0
        for index in 0..<min(a.count, b.count) {
            let x = Double(a[index])
            let y = Double(b[index])
            dot += x * y
            normA += x * x
            normB += y * y
        }
        return Float(dot / (normA.squareRoot() * normB.squareRoot()))
    }

    private func tokenize(_ body: [UInt8]) async throws -> HTTPResponse {
        let request = try RequestDecoder.tokenize(body)
        if request.inputs.isEmpty { throw APIError(.empty, "`inputs` cannot be empty") }
        let lists = try await service.tokenizeForDisplay(request)
        var json = JSONWriter()
        json.beginArray()
        for tokens in lists {
            json.beginArray()
            for token in tokens {
                json.beginObject()
                json.key("id")
                json.integer(token.id)
                json.key("text")
                json.string(token.text)
                json.key("special")
                json.bool(token.special)
                json.key("start")
                json.integerOrNull(token.start)
                json.key("stop")
                json.integerOrNull(token.stop)
                json.endObject()
            }
            json.endArray()
        }
        json.endArray()
        return .json(json.bytes)
    }

    private func decode(_ body: [UInt8]) async throws -> HTTPResponse {
        let request = try RequestDecoder.decode(body)
        let texts = try await service.decode(request)
        var json = JSONWriter()
        json.beginArray()
        for text in texts { json.string(text) }
        json.endArray()
        return .json(json.bytes)
    }

    private func info() -> [UInt8] {
        let model = service.model
        let configuration = service.configuration
        var json = JSONWriter()
        json.beginObject()
        json.key("model_id")
        json.string(model.modelID)
        json.key("model_sha")
        json.stringOrNull(model.revision)
        json.key("model_dtype")
        json.string(model.dtype)
        json.key("served_model_name")
        json.string(model.servedModelName)
        json.key("model_type")
        json.beginObject()
        if let labels = model.labels {
            // TEI's `ModelType`: a reranker has one label, a classifier several; label2id is id2label inverted.
            json.key(model.isReranker ? "reranker" : "classifier")
            json.beginObject()
            json.key("id2label")
            json.beginObject()
            for (id, label) in labels.enumerated() {
                json.key(String(id))
                json.string(label)
            }
            json.endObject()
            json.key("label2id")
            json.beginObject()
            // A label named twice maps to its last id, as a map built from id2label would.
            let ids = Dictionary(labels.enumerated().map { ($1, $0) }, uniquingKeysWith: { $1 })
            for (id, label) in labels.enumerated() where ids[label] == id {
                json.key(label)
                json.integer(id)
            }
            json.endObject()
            json.endObject()
        } else {
            json.key("embedding")
            json.beginObject()
            json.key("pooling")
            json.string(model.pooling)
            json.endObject()
        }
        json.endObject()
        json.key("max_concurrent_requests")
        json.integer(configuration.maxConcurrentRequests)
        json.key("max_input_length")
        json.integer(model.maxInputLength)
        json.key("max_batch_tokens")
        json.integer(configuration.maxBatchTokens)
        json.key("max_batch_requests")
        json.integerOrNull(configuration.maxBatchRequests)
        json.key("max_client_batch_size")
        json.integer(configuration.maxClientBatchSize)
        json.key("auto_truncate")
        json.bool(configuration.autoTruncate)
        json.key("tokenization_workers")
        json.integer(service.tokenizers.threadCount)
        json.key("version")
        json.string(configuration.version)
        json.key("sha")
        json.stringOrNull(configuration.sha)
        json.key("docker_label")
        json.stringOrNull(configuration.dockerLabel)
        json.key("prompts")
        json.beginObject()
        for name in model.prompts.keys.sorted() {
            json.key(name)
            json.string(model.prompts[name]!)
        }
        json.endObject()
        // Not in TEI: which compiled kernels this CPU got, after TEI's fields so their order stays TEI's.
        json.key("kernels")
        json.stringOrNull(model.kernels)
        json.endObject()
        return json.bytes
    }

    private func models() -> [UInt8] {
        var json = JSONWriter()
        json.beginObject()
        json.key("object")
        json.string("list")
        json.key("data")
        json.beginArray()
        json.beginObject()
        json.key("id")
        json.string(service.model.servedModelName)
        json.key("object")
        json.string("model")
        json.key("created")
        json.integer(0)
        json.key("owned_by")
        json.string("embed-server")
        json.endObject()
        json.endArray()
        json.endObject()
        return json.bytes
    }

    /// A 200 JSON response with TEI's compute and timing headers, and the tokens it computed.
    private func success(_ body: [UInt8], batch: EncodedBatch, start: UInt64) -> RouteAnswer {
        let totalMilliseconds = (DispatchTime.now().uptimeNanoseconds - start) / 1_000_000
        let headers: HTTPHeaders = [
            "Content-Type": "application/json",
            "x-compute-type": "cpu",
            "x-compute-time": String(totalMilliseconds),
            "x-compute-characters": String(batch.characters),
            "x-compute-tokens": String(batch.tokenCounts.reduce(0, +)),
            "x-total-time": String(totalMilliseconds),
            "x-tokenization-time": String(Int(batch.tokenizationSeconds * 1000)),
            "x-queue-time": String(Int(batch.queueSeconds * 1000)),
            "x-inference-time": String(Int(batch.inferenceSeconds * 1000)),
        ]
        return RouteAnswer(
            HTTPResponse(status: 200, headers: headers, body: body), computeTokens: batch.tokenCounts.reduce(0, +))
    }
}

/// A route's response, with the tokens it ran through the encoder for the request log (nil for routes that ran
/// none).
private struct RouteAnswer {
    var response: HTTPResponse
    var computeTokens: Int?

    init(_ response: HTTPResponse, computeTokens: Int? = nil) {
        self.response = response
        self.computeTokens = computeTokens
    }
}
