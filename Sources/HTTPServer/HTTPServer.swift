import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// An HTTP/1.1 server on POSIX sockets: `start()` binds and serves; `shutdown(gracePeriodSeconds:)` drains and stops.
package final class HTTPServer: Sendable {
    private enum State {
        case created
        case running(loops: [EventLoop], listeners: [Listener], exited: ExitCounter)
        case stopped
    }

    private let configuration: ServerConfiguration
    private let handler: @Sendable (HTTPRequest) async throws -> HTTPResponse
    private let state = Mutex<State>(.created)
    private let shared = Mutex<ServerShared?>(nil)

    /// A server that answers every request with `handler` (run in its own task; a thrown error becomes a 500).
    package init(
        configuration: ServerConfiguration, handler: @escaping @Sendable (HTTPRequest) async throws -> HTTPResponse
    ) {
        self.configuration = configuration
        self.handler = handler
    }

    /// Binds the listening socket(s) and starts the event-loop threads; returns once connections are accepted.
    package func start() throws(HTTPServerStartError) {
        // A client that disconnects mid-write must not kill the process (send uses MSG_NOSIGNAL; OpenSSL's
        // writes cannot, so the signal is ignored process-wide).
        signal(SIGPIPE, SIG_IGN)
        let tls: TLSContext?
        if let tlsConfiguration = configuration.tls {
            tls = try TLSContext(configuration: tlsConfiguration)
        } else {
            tls = nil
        }
        let shared = ServerShared(configuration: configuration, handler: handler, tls: tls)
        try state.withLock { state throws(HTTPServerStartError) in
            guard case .created = state else { throw .alreadyStarted }
            let listeners =
                if let path = configuration.unixSocketPath {
                    [try Socket.listenUnix(path: path)]
                } else {
                    try Socket.listenTCP(host: configuration.hostname, port: configuration.port)
                }
            let loops = (0..<max(1, configuration.eventLoopCount)).map { EventLoop(index: $0, shared: shared) }
            shared.loops = loops
            loops[0].adopt(listeners: listeners)
            let exited = ExitCounter(count: loops.count)
            for loop in loops {
                let thread = Thread {
                    loop.run()
                    exited.oneExited()
                }
                thread.name = "http-loop-\(loop.index)"
                thread.start()
            }
            state = .running(loops: loops, listeners: listeners, exited: exited)
        }
        self.shared.withLock { $0 = shared }
    }

    /// The TCP port listened on (useful with port 0), or nil before `start()` or for a Unix socket.
    package var boundPort: Int? {
        state.withLock { state in
            guard case .running(_, let listeners, _) = state else { return nil }
            return listeners.first?.port
        }
    }

    /// Raises the soft limit on open files to the hard one, as Go and nginx do (the soft default, often 1024, is
    /// below the default connection cap); returns the soft limit in force afterwards.
    package static func raiseOpenFileLimit() -> Int {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            // An unlimited hard limit is refused above fs.nr_open; the soft limit then stays as it was.
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return Int(clamping: limit.rlim_cur)
    }

    /// Connections open right now.
    package var connectionCount: Int { shared.withLock { $0?.connectionCount ?? 0 } }

    /// Stops accepting, closes idle connections, lets requests in flight finish for up to `gracePeriodSeconds`,
    /// then closes the rest (cancelling their handlers) and stops the loops.
    package func shutdown(gracePeriodSeconds: Double) async {
        let running: (loops: [EventLoop], exited: ExitCounter)? = state.withLock { state in
            guard case .running(let loops, _, let exited) = state else { return nil }
            state = .stopped
            return (loops, exited)
        }
        guard let running, let shared = shared.withLock({ $0 }) else { return }
        shared.startDraining()
        for loop in running.loops { loop.execute { loop.beginDrain() } }
        if let path = configuration.unixSocketPath { unlink(path) }
        let deadline = monotonicSeconds() + gracePeriodSeconds
        while shared.connectionCount > 0 && monotonicSeconds() < deadline {
            try? await Task.sleep(nanoseconds: 5_000_000)
        }
        for loop in running.loops {
            loop.execute {
                loop.closeAll()
                loop.stop()
            }
        }
        await running.exited.wait()
    }
}

/// Counts loop threads down to zero and wakes the shutdown waiting for that.
private final class ExitCounter: Sendable {
    private let state: Mutex<(remaining: Int, waiter: CheckedContinuation<Void, Never>?)>

    init(count: Int) { state = Mutex((count, nil)) }

    func oneExited() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.remaining -= 1
            guard state.remaining == 0 else { return nil }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state -> Bool in
                guard state.remaining > 0 else { return true }
                state.waiter = continuation
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }
}
