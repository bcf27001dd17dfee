// The incremental HTTP/1.1 request parser: a value type fed with bytes that hands out events. It knows no sockets,
// so the fuzz harness compiles it alone (with HTTPHeaders.swift).

/// Why a request was rejected, with the status code the server answers.
package enum HTTPParseError: Error, Equatable, Sendable {
    /// Malformed request line, header or chunk framing (400).
    case badRequest(String)
    /// The request line is longer than the limit (414).
    case uriTooLong
    /// The header (or trailer) section is larger than the limit (431).
    case headersTooLarge
    /// The body is, or announces itself as, larger than the limit (413).
    case payloadTooLarge
    /// A transfer coding other than chunked (501).
    case notImplemented(String)
    /// An `Expect` value other than 100-continue (417).
    case expectationFailed
    /// An HTTP major version other than 1 (505).
    case versionNotSupported

    /// The response status for this error.
    package var status: Int {
        switch self {
        case .badRequest: 400
        case .uriTooLong: 414
        case .headersTooLarge: 431
        case .payloadTooLarge: 413
        case .notImplemented: 501
        case .expectationFailed: 417
        case .versionNotSupported: 505
        }
    }

    /// A human-readable reason, safe to send to the client.
    package var message: String {
        switch self {
        case .badRequest(let reason): "bad request: \(reason)"
        case .uriTooLong: "request line too long"
        case .headersTooLarge: "request header fields too large"
        case .payloadTooLarge: "payload too large"
        case .notImplemented(let reason): "not implemented: \(reason)"
        case .expectationFailed: "unsupported expectation"
        case .versionNotSupported: "HTTP version not supported"
        }
    }
}

/// How the body of a request is delimited.
package enum HTTPBodyFraming: Sendable, Equatable {
    /// `Content-Length: n` (0 when the request has no body).
    case length(Int)
    /// `Transfer-Encoding: chunked`.
    case chunked
}

/// The request line and header section of a request.
package struct HTTPRequestHead: Sendable {
    /// The method token, as sent (methods are case-sensitive).
    package var method: String
    /// The path part of the request target (without the query), e.g. `/embed`.
    package var path: String
    /// The query string after `?`, if any, undecoded.
    package var query: String?
    /// The protocol version.
    package var version: HTTPVersion
    /// The header fields in wire order.
    package var headers: HTTPHeaders
    /// Whether the connection may carry another request after this one.
    package var keepAlive: Bool
    /// Whether the client waits for `100 Continue` before sending the body.
    package var expectsContinue: Bool
    /// How the body is delimited.
    package var framing: HTTPBodyFraming
}

/// What the parser found in the bytes fed so far.
package enum HTTPParserEvent: Sendable {
    /// A complete request head; body events follow.
    case head(HTTPRequestHead)
    /// A piece of the (transfer-decoded) body.
    case body([UInt8])
    /// The end of the request, with trailer fields of a chunked body.
    case end(trailers: HTTPHeaders)
}

/// Size limits the parser enforces while reading.
package struct HTTPParserLimits: Sendable, Equatable {
    /// Longest request line, without its line end (longer: 414).
    package var maxRequestLineBytes: Int
    /// Largest header section, and separately trailer section (larger: 431).
    package var maxHeaderBytes: Int
    /// Largest body after transfer decoding (larger: 413).
    package var maxBodyBytes: Int

    /// Creates limits.
    package init(maxRequestLineBytes: Int = 8192, maxHeaderBytes: Int = 32768, maxBodyBytes: Int = 2_000_000) {
        self.maxRequestLineBytes = maxRequestLineBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
    }
}

/// Incremental HTTP/1.1 request parser: `append` bytes, then call `next()` until it returns nil.
///
/// Lines end in CRLF or a bare LF (RFC 9112 §2.2 lets a recipient accept the latter, as nginx and hyper do); a CR
/// anywhere else is an error, since a peer that treats it as a line end would read different fields.
///
/// After an error the parser stays failed: the connection must answer and close, since framing is lost.
package struct HTTPRequestParser: Sendable {
    private enum State: Sendable {
        case head
        case body(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers(HTTPHeaders, bytes: Int)
        case endOfMessage(HTTPHeaders)
        case failed(HTTPParseError)
    }

    /// The limits in force.
    package let limits: HTTPParserLimits
    private var state: State = .head
    private var buffer: [UInt8] = []
    private var start = 0
    // Where the search for the end of the head resumes, so byte-at-a-time input is not rescanned (O(n²)).
    private var headScanOffset = 0
    private var bodyBytes = 0
    // Counted across calls so the limit does not depend on how the bytes were split.
    private var leadingEmptyLines = 0
    private static let maxChunkLineBytes = 1024
    private static let maxLeadingEmptyLines = 8

    /// A parser with the given limits.
    package init(limits: HTTPParserLimits = HTTPParserLimits()) { self.limits = limits }

    /// Bytes received but not yet turned into events.
    package var bufferedByteCount: Int { buffer.count - start }

    /// True between requests: nothing of a next request has been parsed yet.
    package var isAtRequestBoundary: Bool {
        if case .head = state { return true }
        return false
    }

    /// Adds received bytes.
    package mutating func append(_ bytes: some Collection<UInt8>) {
        compactIfUseful()
        buffer.append(contentsOf: bytes)
    }

    /// Adds received bytes from a raw buffer.
    package mutating func append(_ bytes: UnsafeRawBufferPointer) {
        compactIfUseful()
        buffer.append(contentsOf: bytes)
    }

    /// The next event, nil when more bytes are needed; throws when the request is malformed or over a limit.
    package mutating func next() throws(HTTPParseError) -> HTTPParserEvent? {
        do {
            return try step()
        } catch {
            state = .failed(error)
            throw error
        }
    }

    private mutating func step() throws(HTTPParseError) -> HTTPParserEvent? {
        switch state {
        case .failed(let error):
            throw error
        case .head:
            guard let head = try parseHead() else { return nil }
            bodyBytes = 0
            leadingEmptyLines = 0
            switch head.framing {
            case .length(let length): state = length > 0 ? .body(remaining: length) : .endOfMessage(HTTPHeaders())
            case .chunked: state = .chunkSize
            }
            return .head(head)
        case .body(let remaining):
            guard bufferedByteCount > 0 else { return nil }
            let count = min(remaining, bufferedByteCount)
            let piece = Array(buffer[start..<start + count])
            start += count
            state = remaining == count ? .endOfMessage(HTTPHeaders()) : .body(remaining: remaining - count)
            return .body(piece)
        case .endOfMessage(let trailers):
            state = .head
            headScanOffset = start
            return .end(trailers: trailers)
        case .chunkSize:
            guard let size = try parseChunkSize() else { return nil }
            if size == 0 {
                state = .trailers(HTTPHeaders(), bytes: 0)
            } else {
                guard size <= limits.maxBodyBytes - bodyBytes else { throw .payloadTooLarge }
                bodyBytes += size
                state = .chunkData(remaining: size)
            }
            return try step()
        case .chunkData(let remaining):
            guard bufferedByteCount > 0 else { return nil }
            let count = min(remaining, bufferedByteCount)
            let piece = Array(buffer[start..<start + count])
            start += count
            state = remaining == count ? .chunkDataEnd : .chunkData(remaining: remaining - count)
            return .body(piece)
        case .chunkDataEnd:
            guard let terminator = lineTerminatorLength(at: start) else { return nil }
            guard terminator > 0 else { throw .badRequest("chunk data not followed by a line end") }
            start += terminator
            state = .chunkSize
            return try step()
        case .trailers(var trailers, var bytes):
            while true {
                guard let lineEnd = findLineFeed(from: start) else {
                    guard bytes + bufferedByteCount < limits.maxHeaderBytes else { throw .headersTooLarge }
                    state = .trailers(trailers, bytes: bytes)
                    return nil
                }
                let lineLength = lineEnd + 1 - start
                bytes += lineLength
                guard bytes <= limits.maxHeaderBytes else { throw .headersTooLarge }
                let trailerLine = line(from: start, to: lineEnd)
                start = lineEnd + 1
                if trailerLine.isEmpty {
                    state = .endOfMessage(trailers)
                    return try step()
                }
                let field = try Self.parseField(trailerLine)
                trailers.add(name: field.name, value: field.value)
            }
        }
    }

    // MARK: Head

    private mutating func parseHead() throws(HTTPParseError) -> HTTPRequestHead? {
        try skipLeadingEmptyLines()
        guard let headEnd = findHeadEnd() else {
            try checkIncompleteHeadLimits()
            return nil
        }
        // Limits are checked before syntax, in the same order as checkIncompleteHeadLimits, so the answer does not
        // depend on how the bytes were split.
        let requestLineEnd = findLineFeed(from: start)! // headEnd exists, so a line feed does too
        let requestLine = line(from: start, to: requestLineEnd)
        guard requestLine.count <= limits.maxRequestLineBytes else { throw .uriTooLong }
        guard headEnd - requestLineEnd <= limits.maxHeaderBytes else { throw .headersTooLarge }
        let (method, target, version) = try Self.parseRequestLine(requestLine)

        var headers = HTTPHeaders()
        var lineStart = requestLineEnd + 1
        // headEnd is the LF that ends the first empty line, so every line before it holds a field.
        while lineStart <= headEnd {
            let lineFeed = findLineFeed(from: lineStart)!
            let fieldLine = line(from: lineStart, to: lineFeed)
            lineStart = lineFeed + 1
            if fieldLine.isEmpty { break }
            let field = try Self.parseField(fieldLine)
            headers.add(name: field.name, value: field.value)
        }
        start = headEnd + 1
        headScanOffset = start
        return try Self.makeHead(method: method, target: target, version: version, headers: headers, limits: limits)
    }

    private mutating func skipLeadingEmptyLines() throws(HTTPParseError) {
        while let terminator = lineTerminatorLength(at: start), terminator > 0 {
            leadingEmptyLines += 1
            guard leadingEmptyLines <= Self.maxLeadingEmptyLines else {
                throw .badRequest("too many empty lines before request")
            }
            start += terminator
            headScanOffset = max(headScanOffset, start)
        }
    }

    /// The length of the line end at `index`: 2 for CRLF, 1 for LF, 0 for anything else; nil until it is known.
    private func lineTerminatorLength(at index: Int) -> Int? {
        guard index < buffer.count else { return nil }
        switch buffer[index] {
        case 10: return 1
        case 13:
            guard index + 1 < buffer.count else { return nil }
            return buffer[index + 1] == 10 ? 2 : 0
        default: return 0
        }
    }

    /// The line that the LF at `lineFeed` ends, without that LF or a CR just before it.
    private func line(from lineStart: Int, to lineFeed: Int) -> ArraySlice<UInt8> {
        buffer[lineStart..<(lineFeed > lineStart && buffer[lineFeed - 1] == 13 ? lineFeed - 1 : lineFeed)]
    }

    private func checkIncompleteHeadLimits() throws(HTTPParseError) {
        if let requestLineEnd = findLineFeed(from: start) {
            guard line(from: start, to: requestLineEnd).count <= limits.maxRequestLineBytes else { throw .uriTooLong }
            // The section will be at least one byte (its final LF) longer than what has arrived.
            guard buffer.count - requestLineEnd - 1 < limits.maxHeaderBytes else { throw .headersTooLarge }
        } else {
            guard bufferedByteCount <= limits.maxRequestLineBytes + 1 else { throw .uriTooLong }
        }
    }

    /// The index of the LF ending the first empty line (LF LF or LF CR LF) after `start`, resuming where the last
    /// scan stopped. Leading empty lines are skipped before, so the request line is never taken for it.
    private mutating func findHeadEnd() -> Int? {
        var index = max(start + 1, headScanOffset)
        while index < buffer.count {
            if buffer[index] == 10 {
                if buffer[index - 1] == 10 { return index }
                if buffer[index - 1] == 13, index - 2 >= start, buffer[index - 2] == 10 { return index }
            }
            index += 1
        }
        // The empty line may straddle the next append: its checks look back from the first new byte.
        headScanOffset = max(start + 1, buffer.count)
        return nil
    }

    private func findLineFeed(from index: Int) -> Int? {
        buffer[index...].firstIndex(of: 10)
    }

    private static func parseRequestLine(
        _ line: ArraySlice<UInt8>
    ) throws(HTTPParseError) -> (method: String, target: ArraySlice<UInt8>, version: HTTPVersion) {
        let parts = line.split(separator: 32, maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .badRequest("malformed request line") }
        guard !parts[0].isEmpty, parts[0].allSatisfy(isTokenByte) else { throw .badRequest("invalid method") }
        let target = parts[1]
        guard !target.isEmpty, target.allSatisfy({ $0 > 32 && $0 < 127 }) else {
            throw .badRequest("invalid request target")
        }
        let version = try parseVersion(parts[2])
        return (String(decoding: parts[0], as: UTF8.self), target, version)
    }

    private static func parseVersion(_ bytes: ArraySlice<UInt8>) throws(HTTPParseError) -> HTTPVersion {
        let text = Array(bytes)
        guard text.count == 8, text[0..<5].elementsEqual("HTTP/".utf8), text[6] == 46,
            (48...57).contains(text[5]), (48...57).contains(text[7])
        else { throw .badRequest("invalid HTTP version") }
        let version = HTTPVersion(major: Int(text[5] - 48), minor: Int(text[7] - 48))
        guard version.major == 1 else { throw .versionNotSupported }
        return version
    }

    private static func parseField(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> (name: String, value: String) {
        guard let colon = line.firstIndex(of: 58) else { throw .badRequest("header line without colon") }
        let name = line[line.startIndex..<colon]
        guard !name.isEmpty, name.allSatisfy(isTokenByte) else { throw .badRequest("invalid header name") }
        var value = line[(colon + 1)...]
        while let first = value.first, first == 32 || first == 9 { value.removeFirst() }
        while let last = value.last, last == 32 || last == 9 { value.removeLast() }
        // Field values may hold visible ASCII, spaces, tabs and obs-text; any other control byte is an attack or a bug.
        guard value.allSatisfy({ $0 >= 32 && $0 != 127 || $0 == 9 }) else { throw .badRequest("invalid header value") }
        return (String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
    }

    private static func makeHead(
        method: String, target: ArraySlice<UInt8>, version: HTTPVersion, headers: HTTPHeaders, limits: HTTPParserLimits
    ) throws(HTTPParseError) -> HTTPRequestHead {
        let (path, query) = try splitTarget(target, method: method)
        if version == .http11 {
            guard headers.values("host").count == 1 else {
                throw .badRequest("HTTP/1.1 request needs exactly one Host header")
            }
        }
        let connection = headers.tokens("connection")
        let keepAlive =
            version == .http11
            ? !connection.contains { equalsIgnoringCase($0, "close") }
            : connection.contains { equalsIgnoringCase($0, "keep-alive") }
        var expectsContinue = false
        if let expect = headers["expect"] {
            guard equalsIgnoringCase(trimmed(Substring(expect)), "100-continue") else { throw .expectationFailed }
            expectsContinue = version == .http11
        }
        let framing = try bodyFraming(headers: headers, limits: limits)
        return HTTPRequestHead(
            method: method, path: path, query: query, version: version, headers: headers, keepAlive: keepAlive,
            expectsContinue: expectsContinue, framing: framing)
    }

    private static func splitTarget(
        _ target: ArraySlice<UInt8>, method: String
    ) throws(HTTPParseError) -> (path: String, query: String?) {
        var target = target
        if target.first != 47 { // not origin-form "/…"
            if target.elementsEqual("*".utf8), method == "OPTIONS" { return ("*", nil) }
            // absolute-form ("http://host/path"), which servers must accept: keep only the path and query.
            let text = String(decoding: target, as: UTF8.self).lowercased()
            guard text.hasPrefix("http://") || text.hasPrefix("https://") else {
                throw .badRequest("invalid request target")
            }
            let afterScheme = target.index(target.startIndex, offsetBy: text.hasPrefix("http://") ? 7 : 8)
            guard let slash = target[afterScheme...].firstIndex(where: { $0 == 47 || $0 == 63 }) else {
                return ("/", nil)
            }
            target = target[slash...]
            if target.first == 63 { return ("/", String(decoding: target.dropFirst(), as: UTF8.self)) }
        }
        guard let questionMark = target.firstIndex(of: 63) else {
            return (String(decoding: target, as: UTF8.self), nil)
        }
        return (
            String(decoding: target[..<questionMark], as: UTF8.self),
            String(decoding: target[(questionMark + 1)...], as: UTF8.self)
        )
    }

    private static func bodyFraming(headers: HTTPHeaders, limits: HTTPParserLimits) throws(HTTPParseError)
        -> HTTPBodyFraming
    {
        let codings = headers.tokens("transfer-encoding")
        let lengths = headers.tokens("content-length")
        if !headers.values("transfer-encoding").isEmpty {
            guard lengths.isEmpty, headers.values("content-length").isEmpty else {
                throw .badRequest("both Content-Length and Transfer-Encoding")
            }
            guard let last = codings.last, equalsIgnoringCase(last, "chunked") else {
                throw .badRequest("Transfer-Encoding does not end with chunked")
            }
            guard codings.count == 1 else {
                throw .notImplemented("transfer coding \(codings.dropLast().joined(separator: ", "))")
            }
            return .chunked
        }
        if headers.values("content-length").isEmpty { return .length(0) }
        guard let first = lengths.first, lengths.allSatisfy({ $0 == first }) else {
            throw .badRequest("conflicting Content-Length values")
        }
        guard !first.isEmpty, first.utf8.allSatisfy({ (48...57).contains($0) }) else {
            throw .badRequest("invalid Content-Length")
        }
        // Any length with more digits than the limit is over it; this also keeps Int from overflowing.
        guard first.utf8.count <= 18, let length = Int(first), length <= limits.maxBodyBytes else {
            throw .payloadTooLarge
        }
        return .length(length)
    }

    // MARK: Chunks

    private mutating func parseChunkSize() throws(HTTPParseError) -> Int? {
        guard let lineEnd = findLineFeed(from: start) else {
            guard bufferedByteCount <= Self.maxChunkLineBytes else { throw .badRequest("chunk size line too long") }
            return nil
        }
        guard lineEnd - start <= Self.maxChunkLineBytes else { throw .badRequest("chunk size line too long") }
        let sizeLine = line(from: start, to: lineEnd)
        start = lineEnd + 1
        let digits = sizeLine.prefix { Self.hexValue($0) != nil }
        guard !digits.isEmpty else { throw .badRequest("invalid chunk size") }
        let rest = sizeLine[digits.endIndex...].drop { $0 == 32 || $0 == 9 }
        // ";" starts an extension.
        guard rest.isEmpty || rest.first == 59 else { throw .badRequest("invalid chunk size") }
        guard rest.allSatisfy({ $0 >= 32 && $0 != 127 || $0 == 9 }) else {
            throw .badRequest("invalid chunk extension")
        }
        let significant = digits.drop { $0 == 48 }
        // More significant hex digits than fit a body limit below 2^60 means the chunk is too large anyway.
        guard significant.count <= 15 else { throw .payloadTooLarge }
        return significant.reduce(0) { $0 << 4 | Self.hexValue($1)! }
    }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case 48...57: Int(byte - 48)
        case 65...70: Int(byte - 55)
        case 97...102: Int(byte - 87)
        default: nil
        }
    }

    private mutating func compactIfUseful() {
        guard start > 0, start >= buffer.count / 2 || start > 65536 else { return }
        buffer.removeSubrange(0..<start)
        headScanOffset = max(0, headScanOffset - start)
        start = 0
    }
}

/// tchar from RFC 9110: the bytes allowed in methods and header names.
@inline(__always)
func isTokenByte(_ byte: UInt8) -> Bool {
    switch byte {
    case 48...57, 65...90, 97...122: true
    case 33, 35, 36, 37, 38, 39, 42, 43, 45, 46, 94, 95, 96, 124, 126: true
    default: false
    }
}
