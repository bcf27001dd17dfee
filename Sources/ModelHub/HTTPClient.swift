import COpenSSL
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The status line and headers of one HTTP response; header names are lower-cased.
struct HTTPResponseHead: Sendable {
    let status: Int
    let headers: [String: String]

    subscript(name: String) -> String? { headers[name.lowercased()] }
}

/// A minimal HTTP/1.1 client for GET requests over TCP, with TLS from OpenSSL for `https` URLs.
///
/// It exists because FoundationNetworking on Linux cannot be told to trust a given CA (so its download
/// code could not be tested against a local Hub imitation), and because the model download needs exactly one
/// thing: stream a body to disk while seeing every redirect hop's headers. One connection per request
/// (`Connection: close`); no proxy support.
final class HTTPConnection {
    private let socketFD: Int32
    private var context: OpaquePointer? // SSL_CTX*
    private var tls: OpaquePointer? // SSL*
    private var readAhead: [UInt8] = []
    private var readAheadStart = 0
    private var bodyMode: BodyMode = .none
    private var isOpen = true

    private enum BodyMode {
        case none
        case length(remaining: Int)
        case chunked(remainingInChunk: Int, finished: Bool)
        case untilClose
    }

    /// Opens a connection to the URL's host; for `https` the server certificate is verified against
    /// `trustedCAFile` when given, else the system's trust store (which honours SSL_CERT_FILE / SSL_CERT_DIR).
    init(url: URL, trustedCAFile: String?, timeoutSeconds: Int) throws {
        guard let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty
        else { throw ModelHubError.network(url: url.absoluteString, reason: "only http and https URLs are supported") }
        let port = url.port ?? (scheme == "https" ? 443 : 80)
        socketFD = try Self.connect(host: host, port: port, timeoutSeconds: timeoutSeconds, url: url)
        // A throw from here on still runs deinit, which closes the socket.
        if scheme == "https" { try startTLS(host: host, trustedCAFile: trustedCAFile, url: url) }
    }

    deinit { close() }

    /// Sends `GET` for the URL's path and query, then reads the response head; the body is read with `readBody`.
    func get(_ url: URL, headers: [(String, String)]) throws -> HTTPResponseHead {
        var target = url.path.isEmpty ? "/" : url.path
        if let components = URLComponents(url: url, resolvingAgainstBaseURL: false) {
            target = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
            if let query = components.percentEncodedQuery { target += "?" + query }
        }
        var hostHeader = url.host ?? ""
        if hostHeader.contains(":") { hostHeader = "[\(hostHeader)]" }
        if let port = url.port { hostHeader += ":\(port)" }
        var request = "GET \(target) HTTP/1.1\r\nHost: \(hostHeader)\r\nConnection: close\r\n"
        request += "User-Agent: embed-server-modelhub/1\r\nAccept-Encoding: identity\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        request += "\r\n"
        try writeAll(Array(request.utf8), url: url)
        let head = try readHead(url: url)
        if let encoding = head["transfer-encoding"], encoding.lowercased().contains("chunked") {
            bodyMode = .chunked(remainingInChunk: 0, finished: false)
        } else if let lengthText = head["content-length"] {
            guard let length = Int(lengthText.trimmingCharacters(in: .whitespaces)), length >= 0 else {
                throw ModelHubError.badResponse(url: url.absoluteString, reason: "bad Content-Length \(lengthText)")
            }
            bodyMode = .length(remaining: length)
        } else if head.status == 204 || head.status == 304 || (100..<200).contains(head.status) {
            bodyMode = .length(remaining: 0)
        } else {
            bodyMode = .untilClose
        }
        return head
    }

    /// Streams the response body to `sink` in pieces; throws if the connection ends before the body does.
    func readBody(url: URL, _ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        while true {
            switch bodyMode {
            case .none:
                return
            case .length(let remaining):
                if remaining == 0 { bodyMode = .none; return }
                let piece = try readSome(max: remaining, url: url)
                guard !piece.isEmpty else {
                    throw ModelHubError.network(
                        url: url.absoluteString, reason: "connection closed with \(remaining) body bytes missing")
                }
                try piece.withUnsafeBytes(sink)
                bodyMode = .length(remaining: remaining - piece.count)
            case .chunked(let remainingInChunk, let finished):
                if finished { bodyMode = .none; return }
                if remainingInChunk == 0 {
                    let sizeLine = try readLine(url: url)
                    let sizeText = sizeLine.split(separator: ";").first.map(String.init) ?? ""
                    guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size >= 0 else {
                        throw ModelHubError.badResponse(
                            url: url.absoluteString, reason: "bad chunk size line \(sizeLine)")
                    }
                    if size == 0 {
                        while try !readLine(url: url).isEmpty {} // trailers
                        bodyMode = .chunked(remainingInChunk: 0, finished: true)
                    } else {
                        bodyMode = .chunked(remainingInChunk: size, finished: false)
                    }
                    continue
                }
                let piece = try readSome(max: remainingInChunk, url: url)
                guard !piece.isEmpty else {
                    throw ModelHubError.network(url: url.absoluteString, reason: "connection closed inside a chunk")
                }
                try piece.withUnsafeBytes(sink)
                let left = remainingInChunk - piece.count
                if left == 0 { _ = try readLine(url: url) } // the CRLF after the chunk data
                bodyMode = .chunked(remainingInChunk: left, finished: false)
            case .untilClose:
                let piece = try readSome(max: 1 << 16, url: url)
                if piece.isEmpty { bodyMode = .none; return }
                try piece.withUnsafeBytes(sink)
            }
        }
    }

    /// Reads the whole body into memory, refusing more than `limitBytes`.
    func readBodyData(url: URL, limitBytes: Int) throws -> Data {
        var data = Data()
        try readBody(url: url) { piece in
            guard data.count + piece.count <= limitBytes else {
                throw ModelHubError.badResponse(
                    url: url.absoluteString, reason: "response larger than \(limitBytes) bytes")
            }
            data.append(contentsOf: piece)
        }
        return data
    }

    func close() {
        guard isOpen else { return }
        isOpen = false
        if let tls {
            SSL_shutdown(tls)
            SSL_free(tls)
            self.tls = nil
        }
        if let context {
            SSL_CTX_free(context)
            self.context = nil
        }
        _ = Glibc.close(socketFD)
    }

    // MARK: - Connecting

    private static func connect(host: String, port: Int, timeoutSeconds: Int, url: URL) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw ModelHubError.network(
                url: url.absoluteString, reason: "cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            cursor = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
            if fd < 0 { lastError = String(cString: strerror(errno)); continue }
            // SO_SNDTIMEO bounds connect() on Linux as well as writes; SO_RCVTIMEO bounds each read.
            var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            if Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return fd }
            lastError = String(cString: strerror(errno))
            _ = Glibc.close(fd)
        }
        throw ModelHubError.network(url: url.absoluteString, reason: "cannot connect to \(host):\(port): \(lastError)")
    }

    private func startTLS(host: String, trustedCAFile: String?, url: URL) throws {
        guard let context = SSL_CTX_new(TLS_client_method()) else { throw tlsError(url, "SSL_CTX_new failed") }
        self.context = context
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        // SSL_OP_IGNORE_UNEXPECTED_EOF (a macro Swift cannot import): a peer closing without close_notify then reads
        // as end of stream, and the HTTP framing (Content-Length, last chunk) is what tells a cut-short body.
        SSL_CTX_set_options(context, UInt64(1) << 7)
        if let trustedCAFile {
            guard SSL_CTX_load_verify_locations(context, trustedCAFile, nil) == 1 else {
                throw tlsError(url, "cannot load CA file \(trustedCAFile)")
            }
        } else {
            SSL_CTX_set_default_verify_paths(context)
        }
        guard let tls = SSL_new(context) else { throw tlsError(url, "SSL_new failed") }
        self.tls = tls
        var address = in6_addr()
        let isIPAddress = inet_pton(AF_INET, host, &address) == 1 || inet_pton(AF_INET6, host, &address) == 1
        if isIPAddress {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(tls), host)
        } else {
            // SSL_set_tlsext_host_name is a macro over SSL_ctrl; SNI carries DNS names only.
            _ = host.withCString {
                SSL_ctrl(
                    tls, SSL_CTRL_SET_TLSEXT_HOSTNAME, Int(TLSEXT_NAMETYPE_host_name),
                    UnsafeMutableRawPointer(mutating: $0))
            }
            guard SSL_set1_host(tls, host) == 1 else { throw tlsError(url, "cannot set host name for verification") }
        }
        SSL_set_fd(tls, socketFD)
        guard SSL_connect(tls) == 1 else {
            let verify = SSL_get_verify_result(tls)
            if verify != X509_V_OK {
                throw tlsError(
                    url, "certificate verification failed: \(String(cString: X509_verify_cert_error_string(verify)))")
            }
            throw tlsError(url, "handshake failed")
        }
    }

    private func tlsError(_ url: URL, _ what: String) -> ModelHubError {
        var detail = ""
        let code = ERR_get_error()
        if code != 0 {
            var text = [UInt8](repeating: 0, count: 256)
            text.withUnsafeMutableBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { ERR_error_string_n(code, $0.baseAddress, $0.count) }
            }
            detail = " (\(String(decoding: text.prefix { $0 != 0 }, as: UTF8.self)))"
        }
        ERR_clear_error()
        return .network(url: url.absoluteString, reason: "TLS: \(what)\(detail)")
    }

    // MARK: - Bytes

    private func writeAll(_ bytes: [UInt8], url: URL) throws {
        var offset = 0
        while offset < bytes.count {
            let written: Int = bytes.withUnsafeBytes { raw in
                let base = raw.baseAddress! + offset
                let count = bytes.count - offset
                if let tls { return Int(SSL_write(tls, base, Int32(count))) }
                return send(socketFD, base, count, Int32(MSG_NOSIGNAL))
            }
            if written <= 0 {
                if tls == nil, errno == EINTR { continue }
                throw ModelHubError.network(
                    url: url.absoluteString, reason: "write failed: \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }

    /// Up to `max` bytes, from the read-ahead buffer first; empty at end of stream.
    private func readSome(max: Int, url: URL) throws -> [UInt8] {
        if readAheadStart < readAhead.count {
            let end = min(readAhead.count, readAheadStart + max)
            let piece = Array(readAhead[readAheadStart..<end])
            readAheadStart = end
            return piece
        }
        var buffer = [UInt8](repeating: 0, count: min(max, 1 << 16))
        while true {
            let count: Int = buffer.withUnsafeMutableBytes { raw in
                if let tls { return Int(SSL_read(tls, raw.baseAddress, Int32(raw.count))) }
                return recv(socketFD, raw.baseAddress, raw.count, 0)
            }
            if count > 0 { return Array(buffer[0..<count]) }
            if let tls {
                let reason = SSL_get_error(tls, Int32(count))
                if reason == SSL_ERROR_ZERO_RETURN { return [] }
                if reason == SSL_ERROR_SYSCALL && errno == 0 { return [] }
                if errno == EAGAIN { throw ModelHubError.network(url: url.absoluteString, reason: "read timed out") }
                throw tlsError(url, "read failed")
            }
            if count == 0 { return [] }
            if errno == EINTR { continue }
            throw ModelHubError.network(
                url: url.absoluteString,
                reason: errno == EAGAIN ? "read timed out" : "read failed: \(String(cString: strerror(errno)))")
        }
    }

    private func fillReadAhead(url: URL) throws -> Bool {
        let piece = try readSome(max: 1 << 16, url: url)
        if piece.isEmpty { return false }
        readAhead.removeFirst(readAheadStart)
        readAheadStart = 0
        readAhead.append(contentsOf: piece)
        return true
    }

    private func readLine(url: URL) throws -> String {
        while true {
            if let newline = readAhead[readAheadStart...].firstIndex(of: UInt8(ascii: "\n")) {
                var end = newline
                if end > readAheadStart, readAhead[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                let line = String(decoding: readAhead[readAheadStart..<end], as: UTF8.self)
                readAheadStart = newline + 1
                return line
            }
            guard readAhead.count - readAheadStart < 64 * 1024 else {
                throw ModelHubError.badResponse(url: url.absoluteString, reason: "header line too long")
            }
            guard try fillReadAhead(url: url) else {
                throw ModelHubError.network(
                    url: url.absoluteString, reason: "connection closed before the response head ended")
            }
        }
    }

    private func readHead(url: URL) throws -> HTTPResponseHead {
        let statusLine = try readLine(url: url)
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw ModelHubError.badResponse(url: url.absoluteString, reason: "bad status line \(statusLine.prefix(80))")
        }
        var headers: [String: String] = [:]
        while true {
            let line = try readLine(url: url)
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers[name] = headers[name].map { "\($0), \(value)" } ?? value
        }
        return HTTPResponseHead(status: status, headers: headers)
    }
}
