/// Everything the server needs to listen and enforce its limits; a plain value.
package struct ServerConfiguration: Sendable {
    /// Address to bind (name or literal, resolved with getaddrinfo; every resolved address is bound). `::` is dual-stack.
    package var hostname: String = "0.0.0.0"
    /// TCP port; 0 picks a free one (read it back from `HTTPServer.boundPort`).
    package var port: Int = 3000
    /// When set, listen on this Unix domain socket instead of TCP (a stale socket file is replaced; mode 0660).
    package var unixSocketPath: String?
    /// Serve HTTPS with these files; plain HTTP when nil.
    package var tls: TLSConfiguration?
    /// Largest request body, before and after decompression (larger: 413, then close).
    package var payloadLimitBytes: Int = 2_000_000
    /// Longest request line (longer: 414).
    package var maxRequestLineBytes: Int = 8192
    /// Largest header section (larger: 431).
    package var maxHeaderBytes: Int = 32768
    /// Time allowed from the first byte of a request to the end of its head (then 408 and close).
    package var headerTimeoutSeconds: Double = 10
    /// Time allowed between body bytes (then 408 and close).
    package var bodyTimeoutSeconds: Double = 30
    /// Time allowed for a whole body, from the end of its head (then 408 and close): without it a client that
    /// sends a byte just inside `bodyTimeoutSeconds` holds its connection and body buffer for ever.
    package var bodyDeadlineSeconds: Double = 60
    /// Bytes of request bodies and unsent responses held at once, server-wide; a body that does not fit is answered
    /// 503 with `Retry-After`. Nil: 64 × `payloadLimitBytes` (128 MB at TEI's 2 MB, a quarter of what the fp32
    /// model itself takes). Below `payloadLimitBytes`, a body of the largest size is never accepted.
    package var maxBufferedBytes: Int?
    /// Time an idle keep-alive (or new) connection may wait for a request (then it is closed).
    package var idleTimeoutSeconds: Double = 60
    /// Time a pending response may make no progress because the client does not read (then close).
    package var writeTimeoutSeconds: Double = 30
    /// Most simultaneous connections; further ones are accepted, answered 503 and closed.
    package var maxConnections: Int = 4096
    /// Connections beyond `maxConnections` that serve only GET or HEAD of `probePaths`, one request each, so a
    /// flood at the cap does not fail a liveness probe (anything else there gets 503).
    package var probeConnectionReserve: Int = 16
    /// The paths of liveness and readiness probes.
    package var probePaths: Set<String> = ["/health"]
    /// Origins allowed by CORS (`*` for any); empty disables CORS.
    package var corsAllowOrigins: [String] = []
    /// Compress responses of compressible types ≥ `gzipMinimumBytes` for clients that accept gzip.
    package var gzipResponses: Bool = true
    /// Smallest body worth compressing.
    package var gzipMinimumBytes: Int = 1024
    /// Number of event-loop threads doing socket I/O (and running handlers, unless `handlerExecution` says otherwise).
    package var eventLoopCount: Int = 1
    /// Where handler tasks run: on the connection's event loop (default), or on Swift's concurrency pool. On the loop
    /// a request costs no thread hand-off there and back (a futex wake each, 30–150 µs on a 2-core VM); the handler
    /// must then move lengthy work elsewhere itself (`offloaded`, or `withTaskExecutorPreference`).
    package var handlerExecution: HandlerExecution = .eventLoop
    /// Builds the body of server-generated errors and of 500s from throwing handlers.
    package var errorResponder: HTTPErrorResponder = defaultErrorResponder

    /// A configuration with defaults (port 3000 on all IPv4 addresses, TEI's 2 MB payload limit).
    package init() {}

    /// Descriptors left for everything but client connections: standard streams, listeners, two per event loop,
    /// the model and tokenizer files, Dispatch's; about 20 in all, so 128 leaves ample room.
    package static let ownDescriptors = 128

    /// This configuration with `maxConnections` lowered, if need be, so that connections, the probe reserve and
    /// `ownDescriptors` fit in `descriptorLimit` open files; at least one connection.
    package func fitting(descriptorLimit: Int) -> ServerConfiguration {
        var fitted = self
        fitted.maxConnections = max(
            1, min(maxConnections, descriptorLimit - probeConnectionReserve - Self.ownDescriptors))
        return fitted
    }

    var resolvedMaxBufferedBytes: Int { maxBufferedBytes ?? 64 * payloadLimitBytes }

    var parserLimits: HTTPParserLimits {
        HTTPParserLimits(
            maxRequestLineBytes: maxRequestLineBytes, maxHeaderBytes: maxHeaderBytes, maxBodyBytes: payloadLimitBytes)
    }
}

/// PEM files for TLS.
package struct TLSConfiguration: Sendable {
    /// Certificate chain file (PEM, leaf first).
    package var certificatePath: String
    /// Private key file (PEM).
    package var privateKeyPath: String

    /// Creates a TLS configuration.
    package init(certificatePath: String, privateKeyPath: String) {
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
    }
}

/// Where handler tasks run.
package enum HandlerExecution: Sendable {
    /// Swift's global concurrency pool: right for handlers that compute before their first `await`, at the cost of a
    /// thread hand-off per request.
    case concurrencyPool
    /// The event loop that owns the connection: no hand-off, so cheaper for handlers that await quickly (their
    /// synchronous work delays every other connection of that loop meanwhile).
    case eventLoop
}
