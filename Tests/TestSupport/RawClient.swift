import Foundation
import HTTPServer

#if canImport(Glibc)
    import Glibc
#endif

/// A response as the raw test client read it.
package struct RawResponse {
    package var status: Int
    package var headers: HTTPHeaders
    package var body: [UInt8]

    package init(status: Int, headers: HTTPHeaders, body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    package var text: String { String(decoding: body, as: UTF8.self) }
    /// The body parsed by Foundation (fragments allowed), or nil when it is not JSON.
    package var json: Any? { try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]) }
}

package struct TestClientError: Error, CustomStringConvertible {
    package let description: String

    package init(description: String) { self.description = description }
}

/// A socket client that speaks just enough HTTP/1.1 to check the server byte for byte.
///
/// Its socket calls block, so each runs on a Dispatch queue: blocking a Swift concurrency thread would starve the
/// handler tasks of the server under test (the pool has one thread per core).
package final class RawClient: @unchecked Sendable {
    // Unchecked: a client is used by one test, one call at a time (each call awaits the previous one).
    package let fd: Int32
    private var buffer: [UInt8] = []

    /// Connects over TCP to 127.0.0.1 (or ::1 when `ipv6`) without blocking a concurrency thread.
    package static func connect(port: Int, ipv6: Bool = false) async throws -> RawClient {
        try await onThread { try RawClient(port: port, ipv6: ipv6) }
    }

    /// Connects to a Unix domain socket without blocking a concurrency thread.
    package static func connect(unixPath: String) async throws -> RawClient {
        try await onThread { try RawClient(unixPath: unixPath) }
    }

    /// Connects over TCP to 127.0.0.1 (or ::1 when `ipv6`).
    package init(port: Int, ipv6: Bool = false, timeoutSeconds: Int = 5) throws {
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
    package init(unixPath: String, timeoutSeconds: Int = 5) throws {
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

    package func send(_ text: String) async throws { try await send(Array(text.utf8)) }

    package func send(_ bytes: [UInt8]) async throws { try await onThread { try self.sendNow(bytes) } }

    package func sendNow(_ bytes: [UInt8]) throws {
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
    package func sendByteByByte(_ text: String) async throws {
        try await onThread { for byte in text.utf8 { try self.sendNow([byte]) } }
    }

    /// Closes the write side only (the peer reads EOF).
    package func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Reads more bytes; false at EOF or time-out.
    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = recv(fd, &chunk, chunk.count, 0)
        guard count > 0 else { return false }
        buffer += chunk[0..<count]
        return true
    }

    /// Reads one response (skipping nothing: a 100 Continue is returned as such).
    package func readResponse(forHEAD: Bool = false) async throws -> RawResponse {
        try await onThread { try self.readResponseNow(forHEAD: forHEAD) }
    }

    /// `readResponse` on the calling thread, for work already on a thread of its own.
    package func readResponseNow(forHEAD: Bool = false) throws -> RawResponse {
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
    package func readsEndOfStream() async -> Bool {
        (try? await onThread { self.readsEndOfStreamNow() }) ?? false
    }

    private func readsEndOfStreamNow() -> Bool {
        var byte: UInt8 = 0
        let count = recv(fd, &byte, 1, 0)
        return count == 0 || (count < 0 && errno == ECONNRESET)
    }

    /// A request with a Host header and optional body.
    package static func request(_ method: String, _ path: String, headers: [String] = [], body: String? = nil) -> String
    {
        var text = "\(method) \(path) HTTP/1.1\r\nHost: test\r\n"
        for header in headers { text += header + "\r\n" }
        if let body { text += "Content-Length: \(body.utf8.count)\r\n\r\n" + body } else { text += "\r\n" }
        return text
    }
}
