import JSON

/// A complete request as handed to a handler; the body is already transfer- and content-decoded.
package struct HTTPRequest: Sendable {
    /// The method token, e.g. `GET` or `POST`.
    package var method: String
    /// The path of the request target, e.g. `/embed`.
    package var path: String
    /// The query string after `?`, undecoded, if any.
    package var query: String?
    /// The protocol version.
    package var version: HTTPVersion
    /// The header fields in wire order. Trailer fields of a chunked body are not among them (RFC 9110 §6.5.1): a
    /// proxy in front may never have inspected them, so an `Authorization` sent there must not count.
    package var headers: HTTPHeaders
    /// The body bytes, decompressed when the client sent `Content-Encoding: gzip` or `deflate`.
    package var body: [UInt8]
    /// The peer as `address:port` (`[v6]:port` for IPv6), or `unix` for a Unix domain socket.
    package var remoteAddress: String

    /// Creates a request (used by the server, and by tests that call handlers directly).
    package init(
        method: String, path: String, query: String? = nil, version: HTTPVersion = .http11,
        headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = [], remoteAddress: String = ""
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.version = version
        self.headers = headers
        self.body = body
        self.remoteAddress = remoteAddress
    }

    /// The first value of header `name` (any case), or nil.
    package func header(_ name: String) -> String? { headers[name] }
}

/// A response a handler returns; the server adds framing headers (`Content-Length`, `Connection`, `Date`).
package struct HTTPResponse: Sendable {
    /// The status code, e.g. 200.
    package var status: Int
    /// Header fields to send; framing fields set here are replaced by the server's.
    package var headers: HTTPHeaders
    /// The body bytes (not sent for HEAD requests, 204 and 304).
    package var body: [UInt8]
    /// Work the client need not wait for, such as a request log line: run on the connection's event loop once the
    /// response is queued and its first write done, or once its connection is found closed.
    package var afterSend: (@Sendable () -> Void)?

    /// Creates a response.
    package init(status: Int = 200, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON response from already encoded bytes.
    package static func json(_ body: [UInt8], status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "application/json"], body: body)
    }

    /// A JSON response from an already encoded string.
    package static func json(_ body: String, status: Int = 200) -> HTTPResponse {
        json(Array(body.utf8), status: status)
    }

    /// A plain-text response.
    package static func text(_ body: String, status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "text/plain; charset=utf-8"], body: Array(body.utf8))
    }
}

/// An error the server answers on its own (malformed request, limit, time-out) or a handler's thrown error (500).
package struct HTTPServerError: Sendable {
    /// The status code of the answer.
    package var status: Int
    /// A human-readable reason, safe to show to clients.
    package var message: String

    /// Creates an error description.
    package init(status: Int, message: String) {
        self.status = status
        self.message = message
    }
}

/// Builds the response for a server-generated error; the API layer can replace it to answer in its own format.
package typealias HTTPErrorResponder = @Sendable (HTTPServerError) -> HTTPResponse

/// The default error body: `{"error":"…","error_type":"…"}` (TEI's shape), `backend` for 5xx, `validation` otherwise.
package let defaultErrorResponder: HTTPErrorResponder = { error in
    let type = error.status >= 500 ? "backend" : "validation"
    return .json("{\"error\":\(JSONLines.quoted(error.message)),\"error_type\":\"\(type)\"}", status: error.status)
}

/// The reason phrase for a status code.
func reasonPhrase(_ status: Int) -> String {
    switch status {
    case 100: "Continue"
    case 200: "OK"
    case 201: "Created"
    case 202: "Accepted"
    case 204: "No Content"
    case 206: "Partial Content"
    case 301: "Moved Permanently"
    case 302: "Found"
    case 304: "Not Modified"
    case 307: "Temporary Redirect"
    case 308: "Permanent Redirect"
    case 400: "Bad Request"
    case 401: "Unauthorized"
    case 403: "Forbidden"
    case 404: "Not Found"
    case 405: "Method Not Allowed"
    case 408: "Request Timeout"
    case 409: "Conflict"
    case 413: "Content Too Large"
    case 414: "URI Too Long"
    case 415: "Unsupported Media Type"
    case 417: "Expectation Failed"
    case 422: "Unprocessable Content"
    case 424: "Failed Dependency"
    case 429: "Too Many Requests"
    case 431: "Request Header Fields Too Large"
    case 499: "Client Closed Request"
    case 500: "Internal Server Error"
    case 501: "Not Implemented"
    case 502: "Bad Gateway"
    case 503: "Service Unavailable"
    case 504: "Gateway Timeout"
    case 505: "HTTP Version Not Supported"
    default: "Status \(status)"
    }
}
