import EmbeddingModel
import Embeddings
import Foundation
import HTTPServer
import Kernels
import Tokenizers

@testable import EmbeddingAPI

#if canImport(Glibc)
    import Glibc
#endif

/// The real HTTP server with the API router, listening on an ephemeral loopback port.
final class LoopbackServer: Sendable {
    let server: HTTPServer
    let router: APIRouter
    let port: Int

    init(router: APIRouter, payloadLimitBytes: Int = 2_000_000) throws {
        var configuration = ServerConfiguration()
        configuration.hostname = "127.0.0.1"
        configuration.port = 0
        configuration.payloadLimitBytes = payloadLimitBytes
        configuration.corsAllowOrigins = ["*"]
        configuration.errorResponder = APIRouter.errorResponder
        server = HTTPServer(configuration: configuration) { request in await router.handle(request) }
        try server.start()
        self.router = router
        port = server.boundPort!
    }

    /// Sends one request on a fresh connection and reads the whole response (the server closes it).
    ///
    /// The blocking socket calls run on a thread of their own: on the task pool they would starve the handlers
    /// of the server under test, which run there.
    func send(
        _ method: String, _ path: String, body: String? = nil, headers: [(String, String)] = []
    ) async throws -> RawResponse {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        var fields = headers
        if let body {
            if !fields.contains(where: { $0.0.lowercased() == "content-type" }) {
                fields.append(("Content-Type", "application/json"))
            }
            fields.append(("Content-Length", String(body.utf8.count)))
        }
        for (name, value) in fields { head += "\(name): \(value)\r\n" }
        let request = Array((head + "\r\n").utf8) + Array((body ?? "").utf8)
        let port = port
        return try await onThread {
            let client = try LoopbackConnection(port: port)
            try client.write(request)
            return try RawResponse(parsing: client.readAll())
        }
    }

    func post(_ path: String, _ json: String, headers: [(String, String)] = []) async throws -> RawResponse {
        try await send("POST", path, body: json, headers: headers)
    }
}

/// Runs blocking work on a new thread and awaits its result without holding a task-pool thread.
func onThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result(catching: work)) }.start()
    }
}

/// A blocking TCP connection to 127.0.0.1.
final class LoopbackConnection: Sendable {
    let descriptor: Int32

    init(port: Int) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if result != 0 { throw LoopbackError(description: "connect failed: errno \(errno)") }
        // Generous: a 2,048-token request through the debug-built encoder, beside the other real-model suites on a
        // loaded 2-core machine, has taken over two minutes; the time-out only guards against a hung server.
        var timeout = timeval(tv_sec: 900, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(descriptor) }

    func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if sent <= 0 { throw LoopbackError(description: "send failed: errno \(errno)") }
            offset += sent
        }
    }

    func readAll() throws -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count == 0 { return result }
            if count < 0 {
                if errno == ECONNRESET { return result }
                throw LoopbackError(description: "recv failed: errno \(errno)")
            }
            result += buffer[0..<count]
        }
    }
}

struct LoopbackError: Error, CustomStringConvertible {
    var description: String
}

/// A parsed HTTP/1.1 response (Content-Length or close-delimited bodies; the server does not chunk these).
struct RawResponse {
    var status: Int
    var headers: [String: String]
    var body: [UInt8]

    init(parsing bytes: [UInt8]) throws {
        guard let end = bytes.firstRange(of: Array("\r\n\r\n".utf8)) else {
            throw LoopbackError(description: "no complete response head in \(bytes.count) bytes")
        }
        let head = String(decoding: bytes[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        status = Int(head[0].split(separator: " ")[1]) ?? 0
        headers = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        body = Array(bytes[end.upperBound...])
        if let length = headers["content-length"].flatMap(Int.init) { body = Array(body.prefix(length)) }
    }

    var text: String { String(decoding: body, as: UTF8.self) }
    var json: Any? { try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]) }
    var vectors: [[Float]] {
        ((json as? [[Any]]) ?? []).map { $0.map { Float(($0 as? NSNumber)?.doubleValue ?? .nan) } }
    }
    var teiError: (message: String, type: String)? {
        guard let object = json as? [String: Any], let message = object["error"] as? String,
            let type = object["error_type"] as? String
        else { return nil }
        return (message, type)
    }
}

/// Loads a model directory into a router the way `embed-server serve` does.
func liveRouter(directory: String, modelID: String, configuration: APIConfiguration = APIConfiguration()) throws
    -> APIRouter
{
    let embedder = try Embedder(directory: URL(fileURLWithPath: directory))
    let info = embedder.info
    var labels: [String]?
    if case .classifier(let names) = info.kind { labels = names }
    let model = ModelDescription(
        modelID: modelID, maxInputLength: info.maxSequenceLength, embeddingDimensions: info.dimensions,
        hiddenSize: info.hiddenSize, vocabularySize: info.vocabularySize, prompts: info.prompts, labels: labels)
    let service = try EmbeddingService(model: model, configuration: configuration, backend: .live(embedder))
    return APIRouter(service: service)
}

func fixturePath(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)").path
}

/// Equal up to float rounding: concurrent tests share a server, so the same input may run in batches of other
/// shapes, whose GEMM tiles sum in another order.
func sameVectors(_ a: [[Float]], _ b: [[Float]]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0.count == $1.count && cosine($0, $1) >= 0.999999 }
}

func cosine(_ a: [Float], _ b: [Float]) -> Double {
    var dot = 0.0, normA = 0.0, normB = 0.0
    for (x, y) in zip(a, b) {
        dot += Double(x) * Double(y)
        normA += Double(x) * Double(x)
        normB += Double(y) * Double(y)
    }
    return dot / (normA.squareRoot() * normB.squareRoot())
}
