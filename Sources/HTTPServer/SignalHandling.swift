import Dispatch

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Delivers SIGTERM and SIGINT to a closure (once per signal) and ignores SIGPIPE; keep it alive while it should act.
package final class ShutdownSignals: @unchecked Sendable {
    // Safe to share: `sources` is set once in init and only cancelled in deinit; Dispatch sources are thread-safe.
    private let sources: [any DispatchSourceSignal]

    /// Installs the signal sources; `onSignal` receives the signal number on a Dispatch queue.
    package init(onSignal: @escaping @Sendable (Int32) -> Void) {
        signal(SIGPIPE, SIG_IGN)
        sources = [SIGTERM, SIGINT].map { number in
            // The default action would kill the process before the source sees the signal.
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { onSignal(number) }
            source.resume()
            return source
        }
    }

    /// Cancels the sources and gives SIGTERM and SIGINT their default action back.
    deinit {
        sources.forEach { $0.cancel() }
        signal(SIGTERM, SIG_DFL)
        signal(SIGINT, SIG_DFL)
    }
}
