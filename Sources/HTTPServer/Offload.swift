import Dispatch

/// Runs CPU-heavy work (a large response's JSON or gzip, a compressed body's inflation) on Dispatch's utility
/// threads and awaits it: on the cooperative pool (one thread per core) eight concurrent 4 MB gzip'd answers held
/// `/health` for 8.3 s; there, the pool's threads stay free for probes and small requests while the OS shares the
/// cores.
package func offloaded<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        DispatchQueue.global(qos: .utility).async { continuation.resume(returning: work()) }
    }
}
