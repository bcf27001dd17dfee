// A trivial-handler server for scripts/bench/bench-http: answers every request with a fixed body.
// Usage: bench-http-server [--port N] [--body-bytes N] [--loops N] [--handlers-on-loop 0|1]
import Foundation
import HTTPServer

var configuration = ServerConfiguration()
configuration.hostname = "127.0.0.1"
configuration.port = 8181
configuration.maxConnections = 10_000
var bodyBytes = 13
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let flag = arguments.next() {
    guard let value = arguments.next().flatMap({ Int($0) }) else {
        FileHandle.standardError.write(Data("\(flag) needs an integer value\n".utf8))
        exit(2)
    }
    switch flag {
    case "--port": configuration.port = value
    case "--body-bytes": bodyBytes = value
    case "--loops": configuration.eventLoopCount = value
    case "--handlers-on-loop": configuration.handlerExecution = value == 1 ? .eventLoop : .concurrencyPool
    default:
        FileHandle.standardError.write(Data("unknown flag \(flag)\n".utf8))
        exit(2)
    }
}
let body = [UInt8](repeating: UInt8(ascii: "a"), count: bodyBytes)
let server = HTTPServer(configuration: configuration) { _ in
    HTTPResponse(status: 200, headers: ["Content-Type": "text/plain"], body: body)
}
try server.start()
print("listening on 127.0.0.1:\(server.boundPort ?? 0)")
let done = DispatchSemaphore(value: 0)
let signals = ShutdownSignals { _ in
    Task {
        await server.shutdown(gracePeriodSeconds: 5)
        done.signal()
    }
}
done.wait()
withExtendedLifetime(signals) {}
