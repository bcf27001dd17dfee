import Synchronization

/// Which connection count a connection was admitted under.
enum ConnectionSlot {
    /// One of `maxConnections`: serves anything.
    case regular
    /// One of `probeConnectionReserve`, taken at the cap: serves one probe request, then closes.
    case probe
}

/// A connection on a probe slot that is not serving a probe: no request head yet, or a non-probe request answered
/// 503. A newer connection may take its slot.
struct ProbeWaiter: Sendable {
    let loop: EventLoop
    let connectionID: UInt64

    func isSame(as other: ProbeWaiter) -> Bool { loop === other.loop && connectionID == other.connectionID }
}

/// State every loop and handler task of one server reads: configuration, handler, TLS context, counters.
final class ServerShared: Sendable {
    let configuration: ServerConfiguration
    let handler: @Sendable (HTTPRequest) async throws -> HTTPResponse
    let tls: TLSContext?
    /// The buffer budget in force (`maxBufferedBytes` resolved).
    let maxBufferedBytes: Int
    private let loopList = Mutex<[EventLoop]>([])
    private let regularConnections = Atomic<Int>(0)
    private let probeConnections = Atomic<Int>(0)
    /// Probe-slot connections not serving a probe, oldest first.
    private let probeWaiters = Mutex<[ProbeWaiter]>([])
    private let bufferedBytes = Atomic<Int>(0)
    private let draining = Atomic<Bool>(false)

    /// Allowed methods and request headers of CORS preflights: those the API uses, never an echo of the request.
    static let corsAllowMethods = "GET, POST, OPTIONS"
    static let corsAllowHeaders = "Content-Type, Authorization, X-Request-Id"

    init(
        configuration: ServerConfiguration, handler: @escaping @Sendable (HTTPRequest) async throws -> HTTPResponse,
        tls: TLSContext?
    ) {
        self.configuration = configuration
        self.handler = handler
        self.tls = tls
        maxBufferedBytes = configuration.resolvedMaxBufferedBytes
    }

    var loops: [EventLoop] {
        get { loopList.withLock { $0 } }
        set { loopList.withLock { $0 = newValue } }
    }

    var connectionCount: Int {
        regularConnections.load(ordering: .acquiring) + probeConnections.load(ordering: .acquiring)
    }

    var isDraining: Bool { draining.load(ordering: .acquiring) }

    func startDraining() { draining.store(true, ordering: .releasing) }

    /// Counts a new connection: a regular slot below `maxConnections`, else a probe slot of the reserve, else nil.
    func reserveConnectionSlot() -> ConnectionSlot? {
        if Self.take(regularConnections, limit: configuration.maxConnections) { return .regular }
        if Self.take(probeConnections, limit: configuration.probeConnectionReserve) { return .probe }
        return nil
    }

    func releaseConnectionSlot(_ slot: ConnectionSlot) {
        switch slot {
        case .regular: regularConnections.wrappingSubtract(1, ordering: .acquiringAndReleasing)
        case .probe: probeConnections.wrappingSubtract(1, ordering: .acquiringAndReleasing)
        }
    }

    private static func take(_ counter: borrowing Atomic<Int>, limit: Int) -> Bool {
        guard counter.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue <= limit else {
            counter.wrappingSubtract(1, ordering: .acquiringAndReleasing)
            return false
        }
        return true
    }

    func addProbeWaiter(_ waiter: ProbeWaiter) { probeWaiters.withLock { $0.append(waiter) } }

    /// Removes a waiter whose probe head arrived or whose connection closed; false when a newer connection took its
    /// slot.
    func removeProbeWaiter(_ waiter: ProbeWaiter) -> Bool {
        probeWaiters.withLock { waiters in
            guard let index = waiters.firstIndex(where: { $0.isSame(as: waiter) }) else { return false }
            waiters.remove(at: index)
            return true
        }
    }

    /// With every probe slot taken, the oldest connection not serving a probe gives its slot to a new one. A flood of
    /// idle or non-probe connections then cannot hold the reserve: a real probe sends its head within a round trip of
    /// connecting, and only `probeConnectionReserve` (16) newer connections inside that window could displace it.
    func evictOldestProbeWaiter() -> ProbeWaiter? {
        probeWaiters.withLock { $0.isEmpty ? nil : $0.removeFirst() }
    }

    /// Whether a request may be served on a probe slot: GET or HEAD of a probe path, without a body.
    func isProbe(_ head: HTTPRequestHead) -> Bool {
        (head.method == "GET" || head.method == "HEAD") && head.framing == .length(0)
            && configuration.probePaths.contains(head.path)
    }

    /// Takes `count` bytes of the buffer budget for a request body; false, taking nothing, when they do not fit.
    func reserveBufferBytes(_ count: Int) -> Bool {
        guard bufferedBytes.wrappingAdd(count, ordering: .relaxed).newValue <= maxBufferedBytes else {
            bufferedBytes.wrappingSubtract(count, ordering: .relaxed)
            return false
        }
        return true
    }

    /// Counts response bytes against the budget: they exist already, so they are never refused, but while they
    /// wait for a slow reader new bodies are.
    func chargeBufferBytes(_ count: Int) { bufferedBytes.wrappingAdd(count, ordering: .relaxed) }

    func releaseBufferBytes(_ count: Int) { bufferedBytes.wrappingSubtract(count, ordering: .relaxed) }

    func errorResponse(status: Int, message: String) -> HTTPResponse {
        configuration.errorResponder(HTTPServerError(status: status, message: message))
    }

    /// Runs on a handler task: decodes the body, calls the handler, and applies CORS, gzip and HEAD.
    func respond(to request: HTTPRequest) async -> PreparedResponse {
        var request = request
        var response: HTTPResponse
        let encoding = request.headers["content-encoding"]
        let (body, limit) = (request.body, configuration.payloadLimitBytes)
        // Inflated bytes count against the buffer budget like received ones: a 2 KB gzip body can inflate to the
        // 2 MB payload limit, so 300 such requests would otherwise hold 600 MB past a 128 MB budget.
        let decode: @Sendable () -> Result<[UInt8], ContentDecodingError> = {
            Result { () throws(ContentDecodingError) in
                try ContentCoding.decodeBody(
                    body, encoding: encoding, limitBytes: limit, charge: { self.reserveBufferBytes($0) },
                    release: { self.releaseBufferBytes($0) })
            }
        }
        let decoded = encoding != nil && body.count >= Self.offloadBytes ? await offloaded(decode) : decode()
        switch decoded {
        case .success(let bytes):
            let inflatedBytes = ContentCoding.isIdentity(encoding) ? 0 : bytes.count
            request.body = bytes
            do {
                response = try await handler(request)
            } catch {
                response = errorResponse(status: 500, message: String(describing: error))
            }
            request.body = []
            releaseBufferBytes(inflatedBytes)
        case .failure(let error):
            response = errorResponse(status: error.status, message: error.message)
            if error.status == 503 { response.headers.replaceOrAdd(name: "retry-after", value: "1") }
        }
        if response.body.count >= Self.offloadBytes, gzipApplies(to: response),
            ContentCoding.acceptsGzip(request.headers.values("accept-encoding"))
        {
            let body = response.body
            if let compressed = await offloaded({ ContentCoding.gzip(body) }) {
                response.body = compressed
                response.headers.add(name: "vary", value: "Accept-Encoding")
                response.headers.add(name: "content-encoding", value: "gzip")
            }
        }
        return finish(response, for: request)
    }

    /// Bodies from this size are inflated or gzip'd off the cooperative pool (about 1 ms of zlib at level 6).
    static let offloadBytes = 64 << 10

    /// Whether `finish` gzips this response for a client that accepts it.
    private func gzipApplies(to response: HTTPResponse) -> Bool {
        configuration.gzipResponses && response.body.count >= configuration.gzipMinimumBytes
            && ContentCoding.isCompressible(contentType: response.headers["content-type"])
            && !response.headers.contains("content-encoding")
    }

    /// Adds CORS and content coding, and drops the body of HEAD, 1xx, 204 and 304 responses.
    func finish(_ response: HTTPResponse, for request: HTTPRequest) -> PreparedResponse {
        var headers = response.headers
        var body = response.body
        if let origin = allowedOrigin(request.headers["origin"]), !headers.contains("access-control-allow-origin") {
            headers.add(name: "access-control-allow-origin", value: origin)
            if origin != "*" { headers.add(name: "vary", value: "Origin") }
        }
        if gzipApplies(to: response) {
            headers.add(name: "vary", value: "Accept-Encoding")
            if ContentCoding.acceptsGzip(request.headers.values("accept-encoding")),
                let compressed = ContentCoding.gzip(body)
            {
                body = compressed
                headers.add(name: "content-encoding", value: "gzip")
            }
        }
        let length = body.count
        // These never carry a body on the wire; sending one would desynchronise the client's framing.
        if request.method == "HEAD" || response.status < 200 || response.status == 204 || response.status == 304 {
            body = []
        }
        return PreparedResponse(
            status: response.status, headers: headers, body: body, contentLength: length,
            afterSend: response.afterSend)
    }

    /// The `Access-Control-Allow-Origin` value for a request's `Origin`, or nil when CORS does not allow it.
    func allowedOrigin(_ origin: String?) -> String? {
        let allowed = configuration.corsAllowOrigins
        guard !allowed.isEmpty else { return nil }
        if allowed.contains("*") { return "*" }
        guard let origin, allowed.contains(origin) else { return nil }
        return origin
    }

    /// The answer to a CORS preflight (`OPTIONS` with `Access-Control-Request-Method`), or nil when it is not one.
    func preflightResponse(for request: HTTPRequest) -> HTTPResponse? {
        guard request.method == "OPTIONS", !configuration.corsAllowOrigins.isEmpty,
            request.headers.contains("origin"), request.headers.contains("access-control-request-method")
        else { return nil }
        var headers = HTTPHeaders()
        if allowedOrigin(request.headers["origin"]) != nil {
            headers.add(name: "access-control-allow-methods", value: Self.corsAllowMethods)
            headers.add(name: "access-control-allow-headers", value: Self.corsAllowHeaders)
            headers.add(name: "access-control-max-age", value: "86400")
        }
        return HTTPResponse(status: 204, headers: headers)
    }
}
