import Dispatch
import Foundation
import Synchronization

/// A fixed set of dedicated threads running blocking jobs in FIFO order, awaited from async code.
///
/// Tokenization of all but short inputs runs here so that neither the HTTP I/O threads nor the cooperative pool spend
/// time on it (TEI's `--tokenization-workers`).
package final class WorkerPool: Sendable {
    private struct State {
        var jobs: [@Sendable () -> Void] = []
        var head = 0
        var stopping = false
    }

    /// Number of threads.
    package let threadCount: Int
    private let state = Mutex(State())
    private let available = DispatchSemaphore(value: 0)
    private let exits: [ExitSignal]

    /// Starts `threadCount` threads named `name-0`, `name-1`, ….
    package init(threadCount: Int, name: String) {
        precondition(threadCount > 0, "a worker pool needs at least one thread")
        self.threadCount = threadCount
        exits = (0..<threadCount).map { _ in ExitSignal() }
        for index in 0..<threadCount {
            let thread = Thread { [self] in self.workerLoop(exit: exits[index]) }
            thread.name = "\(name)-\(index)"
            thread.start()
        }
    }

    /// Runs `job` on one of the pool's threads and returns its result.
    package func run<T: Sendable>(_ job: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let accepted = state.withLock { state -> Bool in
                guard !state.stopping else { return false }
                state.jobs.append { continuation.resume(with: Result(catching: job)) }
                return true
            }
            if accepted {
                available.signal()
            } else {
                continuation.resume(throwing: BatcherError.shutDown)
            }
        }
    }

    /// Stops accepting jobs; the queued ones still run, then the threads exit. Returns at once.
    package func shutdown() {
        let first = state.withLock { state -> Bool in
            defer { state.stopping = true }
            return !state.stopping
        }
        guard first else { return }
        for _ in 0..<threadCount { available.signal() }
    }

    /// Returns once every thread has exited (after `shutdown()`).
    package func stopped() async {
        for signal in exits { await signal.wait() }
    }

    private func workerLoop(exit: ExitSignal) {
        while true {
            available.wait()
            let next = state.withLock { state -> (@Sendable () -> Void)?? in
                if state.head < state.jobs.count {
                    let job = state.jobs[state.head]
                    state.head += 1
                    if state.head == state.jobs.count {
                        state.jobs.removeAll(keepingCapacity: true)
                        state.head = 0
                    }
                    return .some(job)
                }
                return state.stopping ? .none : .some(nil)
            }
            switch next {
            case .none:
                exit.fire()
                return
            case .some(.none):
                continue
            case .some(.some(let job)):
                job()
            }
        }
    }
}
