import HTTPServer
import TestSupport

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
