import Foundation
import HTTPServer

#if canImport(Glibc)
    import Glibc
#endif

/// A response as the raw test client read it.
struct RawResponse {
    var status: Int
    var headers: HTTPHeaders
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
}

struct TestClientError: Error, CustomStringConvertible {
    let description: String
}

/// A socket client that speaks just enough HTTP/1.1 to check the server byte for byte.
///
/// Its socket calls block, so each runs on a Dispatch queue: blocking a Swift concurrency thread would starve the
/// handler tasks of the server under test (the pool has one thread per core).
final class RawClient: @unchecked Sendable {
    // Unchecked: a client is used by one test, one call at a time (each call awaits the previous one).
    let fd: Int32
    private var buffer: [UInt8] = []

    /// Connects over TCP to 127.0.0.1 (or ::1 when `ipv6`) without blocking a concurrency thread.
    static func connect(port: Int, ipv6: Bool = false) async throws -> RawClient {
        try await offPool { try RawClient(port: port, ipv6: ipv6) }
    }

    /// Connects to a Unix domain socket without blocking a concurrency thread.
    static func connect(unixPath: String) async throws -> RawClient {
        try await offPool { try RawClient(unixPath: unixPath) }
    }

    /// Connects over TCP to 127.0.0.1 (or ::1 when `ipv6`).
    init(port: Int, ipv6: Bool = false, timeoutSeconds: Int = 5) throws {
        if ipv6 {
            fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = UInt16(port).bigEndian
            address.sin6_addr = in6addr_loopback
            let status = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
            guard status == 0 else {
                throw TestClientError(description: "connect [::1]:\(port) failed: errno \(errno)")
            }
        } else {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(port).bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let status = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            // No close here: the instance is fully initialised, so throwing runs deinit, which closes `fd`. A second
            // close could shut a descriptor that a test running in parallel had just been given the same number for
            // (seen as `send failed: errno 9` in another suite).
            guard status == 0 else {
                throw TestClientError(description: "connect 127.0.0.1:\(port) failed: errno \(errno)")
            }
        }
        setTimeout(seconds: timeoutSeconds)
    }

    /// Connects to a Unix domain socket.
    init(unixPath: String, timeoutSeconds: Int = 5) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(unixPath.utf8)) }
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard status == 0 else { throw TestClientError(description: "connect \(unixPath) failed: errno \(errno)") }
        setTimeout(seconds: timeoutSeconds)
    }

    deinit { close(fd) }

    private func setTimeout(seconds: Int) {
        var time = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ text: String) async throws { try await send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) async throws { try await offPool { try self.sendNow(bytes) } }

    func sendNow(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
            }
            guard count > 0 else { throw TestClientError(description: "send failed: errno \(errno)") }
            sent += count
        }
    }

    /// Sends one byte per write call, so the server sees every possible split.
    func sendByteByByte(_ text: String) async throws {
        try await offPool { for byte in text.utf8 { try self.sendNow([byte]) } }
    }

    /// Closes the write side only (the peer reads EOF).
    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Reads more bytes; false at EOF or time-out.
    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = recv(fd, &chunk, chunk.count, 0)
        guard count > 0 else { return false }
        buffer += chunk[0..<count]
        return true
    }

    /// Reads one response (skipping nothing: a 100 Continue is returned as such).
    func readResponse(forHEAD: Bool = false) async throws -> RawResponse {
        try await offPool { try self.readResponseNow(forHEAD: forHEAD) }
    }

    private func readResponseNow(forHEAD: Bool) throws -> RawResponse {
        var headEnd: Int?
        while headEnd == nil {
            headEnd = findHeadEnd()
            if headEnd == nil, !fill() {
                throw TestClientError(description: "connection ended before a response head (\(buffer.count) bytes)")
            }
        }
        let headText = String(decoding: buffer[0..<headEnd!], as: UTF8.self)
        buffer.removeSubrange(0..<(headEnd! + 4))
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
            throw TestClientError(description: "bad status line")
        }
        var headers = HTTPHeaders()
        for line in lines {
            let parts = line.split(separator: ":", maxSplits: 1)
            headers.add(
                name: String(parts[0]),
                value: parts.count > 1 ? String(parts[1]).trimmingCharacters(in: .whitespaces) : "")
        }
        let length = forHEAD || status < 200 || status == 204 ? 0 : Int(headers["content-length"] ?? "0") ?? 0
        while buffer.count < length {
            guard fill() else { throw TestClientError(description: "connection ended inside a body") }
        }
        let body = Array(buffer[0..<length])
        buffer.removeSubrange(0..<length)
        return RawResponse(status: status, headers: headers, body: body)
    }

    private func findHeadEnd() -> Int? {
        guard buffer.count >= 4 else { return nil }
        for index in 0...(buffer.count - 4)
        where buffer[index] == 13 && buffer[index + 1] == 10 && buffer[index + 2] == 13 && buffer[index + 3] == 10 {
            return index
        }
        return nil
    }

    /// True when the server closed the connection (EOF or reset) with nothing more to read.
    func readsEndOfStream() async -> Bool {
        (try? await offPool { self.readsEndOfStreamNow() }) ?? false
    }

    private func readsEndOfStreamNow() -> Bool {
        var byte: UInt8 = 0
        let count = recv(fd, &byte, 1, 0)
        return count == 0 || (count < 0 && errno == ECONNRESET)
    }

    /// A request with a Host header and optional body.
    static func request(_ method: String, _ path: String, headers: [String] = [], body: String? = nil) -> String {
        var text = "\(method) \(path) HTTP/1.1\r\nHost: test\r\n"
        for header in headers { text += header + "\r\n" }
        if let body { text += "Content-Length: \(body.utf8.count)\r\n\r\n" + body } else { text += "\r\n" }
        return text
    }
}

/// Runs blocking socket work on a thread of its own and awaits its result. Not a Dispatch queue: its worker pool
/// grows only slowly when workers block, which delays every other test.
func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}

/// Starts a server on an ephemeral loopback port, runs `body`, and shuts the server down.
func withServer(
    _ configure: (inout ServerConfiguration) -> Void = { _ in },
    handler: @escaping @Sendable (HTTPRequest) async throws -> HTTPResponse = echoHandler,
    _ body: (HTTPServer, Int) async throws -> Void
) async throws {
    var configuration = ServerConfiguration()
    configuration.hostname = "127.0.0.1"
    configuration.port = 0
    configure(&configuration)
    let server = HTTPServer(configuration: configuration, handler: handler)
    try server.start()
    do {
        try await body(server, server.boundPort ?? 0)
    } catch {
        await server.shutdown(gracePeriodSeconds: 0)
        throw error
    }
    await server.shutdown(gracePeriodSeconds: 1)
}

/// Answers with the method, path, query and body it received.
let echoHandler: @Sendable (HTTPRequest) async throws -> HTTPResponse = { request in
    .text("\(request.method) \(request.path) \(request.query ?? "-") \(String(decoding: request.body, as: UTF8.self))")
}

/// Polls `condition` until it holds or `timeoutSeconds` pass; for states that have no event to wait on.
func waitUntil(timeoutSeconds: Double = 5, _ condition: () -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(timeoutSeconds)
    while Date() < deadline {
        if condition() { return true }
        try? await Task.sleep(nanoseconds: 2_000_000)
    }
    return condition()
}
