/// A response after the handler and content coding, ready to be framed on the connection's loop.
struct PreparedResponse: Sendable {
    var status: Int
    var headers: HTTPHeaders
    /// Bytes to send (empty for HEAD).
    var body: [UInt8]
    /// The Content-Length to announce (the GET body's length for HEAD).
    var contentLength: Int
    /// The handler's `HTTPResponse.afterSend`.
    var afterSend: (@Sendable () -> Void)? = nil
}

enum ResponseWriter {
    static let continueLine = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    /// Status line and header section, with the server's own framing fields.
    static func head(
        status: Int, headers: HTTPHeaders, contentLength: Int, close: Bool, keepAliveHeader: Bool, dateLine: [UInt8]
    ) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(160 + headers.count * 40)
        out += "HTTP/1.1 \(status) \(reasonPhrase(status))\r\n".utf8
        for field in headers where !isFramingField(field.name) {
            out += field.name.utf8
            out += [58, 32]
            out += field.value.utf8
            out += [13, 10]
        }
        // 1xx and 204 have no body by definition, so they carry no length either.
        if status >= 200 && status != 204 {
            out += "content-length: \(contentLength)\r\n".utf8
        }
        out += dateLine
        if close {
            out += "connection: close\r\n".utf8
        } else if keepAliveHeader {
            out += "connection: keep-alive\r\n".utf8
        }
        out += [13, 10]
        return out
    }

    private static func isFramingField(_ name: String) -> Bool {
        HTTPHeaders.namesMatch(name, "content-length") || HTTPHeaders.namesMatch(name, "transfer-encoding")
            || HTTPHeaders.namesMatch(name, "connection") || HTTPHeaders.namesMatch(name, "date")
            || HTTPHeaders.namesMatch(name, "keep-alive")
    }
}
