import Foundation

/// Runs blocking work (socket calls, a process) on a thread of its own and awaits its result without holding a
/// cooperative thread, which would starve the handlers of a server under test (the pool has one thread per core).
/// Not a Dispatch queue: its worker pool grows only slowly when workers block, which delays every other test.
package func onThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}

/// Polls `condition` until it holds or `timeoutSeconds` pass; for states that have no event to wait on.
package func waitUntil(timeoutSeconds: Double = 5, _ condition: () -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(timeoutSeconds)
    while Date() < deadline {
        if condition() { return true }
        try? await Task.sleep(nanoseconds: 2_000_000)
    }
    return condition()
}

/// The same for synchronous code, which sleeps its own thread between polls (a synchronous test already holds it).
package func waitUntil(timeoutSeconds: Double = 5, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeoutSeconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(2_000)
    }
    return condition()
}
