import Foundation

/// Runs blocking work (socket calls, a process) on a thread of its own and awaits its result without holding a
/// cooperative thread, which would starve the handlers of a server under test (the pool has one thread per core).
/// Not a Dispatch queue: its worker pool grows only slowly when workers block, which delays every other test.
package func onThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}

/// Polls `condition` every 2 ms until it holds or `timeoutSeconds` worth of polls have run; for states that have no
/// event to wait on. The time-out counts polls, not the clock: while the real-model suites hold every thread of the
/// cooperative pool (a minute at a time in `scripts/test`'s second round), the waiting task and the work it waits for
/// stall alike, and a deadline would pass while neither could run.
package func waitUntil(timeoutSeconds: Double = 5, _ condition: () -> Bool) async -> Bool {
    for _ in 0..<pollCount(timeoutSeconds) {
        if condition() { return true }
        try? await Task.sleep(nanoseconds: 2_000_000)
    }
    return condition()
}

/// The same for synchronous code, which sleeps its own thread between polls (a synchronous test already holds it).
package func waitUntil(timeoutSeconds: Double = 5, _ condition: () -> Bool) -> Bool {
    for _ in 0..<pollCount(timeoutSeconds) {
        if condition() { return true }
        usleep(2_000)
    }
    return condition()
}

private func pollCount(_ timeoutSeconds: Double) -> Int { Int((timeoutSeconds * 500).rounded(.up)) }
