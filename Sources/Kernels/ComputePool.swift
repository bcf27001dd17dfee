import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A fixed pool of worker threads for data-parallel loops (one per core by default). Not Dispatch's global queue per call.
///
/// The calling thread works too, so a pool of `threadCount` threads owns `threadCount - 1` workers. Between loops
/// the workers spin briefly before sleeping, so the many short loops of one forward pass do not each pay a wake-up.
/// `parallelFor` calls from different threads are serialised; calling it from inside a body runs the inner loop
/// on the calling thread alone (no deadlock, no extra parallelism).
package final class ComputePool: @unchecked Sendable {
    // @unchecked: `body`, `itemCount` and `shuttingDown` are written only with `mutex` held and read with it held;
    // the counters are atomics; `workers` is written only in init before any loop runs.

    /// Number of threads that run loop bodies, the caller included.
    package let threadCount: Int

    /// How long a thread spins (relaxed atomic loads) before it sleeps: a worker waiting for the next loop, or the
    /// caller waiting for the last items. Between two loops of one forward pass the caller may run serial steps for a
    /// few hundred µs (a short query's norms, RoPE and attention are one task each); a worker that slept through them
    /// woke ~30 µs into the next GEMM, and an 11-token query's o_proj took 126 µs instead of 97 (2-core KVM guest).
    /// Time-bounded rather than counted, because a spin's cost varies several-fold between machines.
    private static let spinNanoseconds: UInt64 = 1_000_000

    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let submitMutex: UnsafeMutablePointer<pthread_mutex_t>
    private let workAvailable: UnsafeMutablePointer<pthread_cond_t>
    private let workFinished: UnsafeMutablePointer<pthread_cond_t>
    private var workers: [pthread_t] = []

    /// Loop number in the high 32 bits, next unclaimed index in the low 32: claiming with one compare-exchange
    /// also checks that the claimer's loop is still the current one.
    private let claim = AtomicCounter()
    /// Bodies of the current loop that have returned.
    private let finished = AtomicCounter()

    // Guarded by `mutex`.
    private var body: UnsafePointer<(Int, Int) -> Void>?
    private var itemCount = 0
    private var shuttingDown = false
    private var caller: pthread_t?

    /// Creates `threadCount - 1` worker threads; `threadCount` defaults to the processors this process may use.
    package init(threadCount: Int = ComputePool.availableProcessorCount) {
        precondition(threadCount >= 1, "a compute pool needs at least one thread")
        self.threadCount = threadCount
        mutex = .allocate(capacity: 1)
        submitMutex = .allocate(capacity: 1)
        workAvailable = .allocate(capacity: 1)
        workFinished = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_mutex_init(submitMutex, nil)
        pthread_cond_init(workAvailable, nil)
        pthread_cond_init(workFinished, nil)
        for slot in 1..<threadCount {
            // The worker frees its context; the pool is unretained because deinit joins the workers.
            let context = UnsafeMutablePointer<WorkerContext>.allocate(capacity: 1)
            context.initialize(to: WorkerContext(pool: Unmanaged.passUnretained(self), slot: slot))
            #if canImport(Darwin)
                var handle: pthread_t?
                let status = pthread_create(&handle, nil, { ComputePool.workerEntry($0) }, context)
                precondition(status == 0, "pthread_create failed with error \(status)")
                workers.append(handle!)
            #else
                var handle = pthread_t()
                let status = pthread_create(&handle, nil, { ComputePool.workerEntry($0!) }, context)
                precondition(status == 0, "pthread_create failed with error \(status)")
                workers.append(handle)
            #endif
        }
    }

    deinit {
        pthread_mutex_lock(mutex)
        shuttingDown = true
        pthread_cond_broadcast(workAvailable)
        pthread_mutex_unlock(mutex)
        for thread in workers { pthread_join(thread, nil) }
        pthread_cond_destroy(workAvailable)
        pthread_cond_destroy(workFinished)
        pthread_mutex_destroy(mutex)
        pthread_mutex_destroy(submitMutex)
        mutex.deallocate()
        submitMutex.deallocate()
        workAvailable.deallocate()
        workFinished.deallocate()
    }

    /// Processors this process may use (affinity and container quota included), at least 1.
    package static var availableProcessorCount: Int { AvailableCores.count }

    /// Runs `body(0) … body(count - 1)` across the pool and returns when all have finished.
    package func parallelFor(_ count: Int, _ body: @Sendable (Int) -> Void) {
        parallelFor(count) { index, _ in body(index) }
    }

    /// Like `parallelFor(_:_:)`, also passing the running thread's slot in 0..<threadCount: within one call no
    /// two bodies run at the same time with the same slot, so per-slot scratch buffers need no locking.
    package func parallelFor(_ count: Int, _ body: @Sendable (_ index: Int, _ threadSlot: Int) -> Void) {
        // Workers are threads, not tasks, so they do not see the caller's task-local kernel override (tests force a
        // variant with it): the bodies get it again, or each kernel they call would pick the CPU's best variant.
        if let forced = KernelVariant.override {
            run(count) { index, slot in KernelVariant.$override.withValue(forced) { body(index, slot) } }
        } else {
            run(count, body)
        }
    }

    private func run(_ count: Int, _ body: @Sendable (_ index: Int, _ threadSlot: Int) -> Void) {
        if count <= 0 { return }
        precondition(count < 1 << 31, "parallelFor: too many items")
        if count == 1 || threadCount == 1 || isInsideBody() {
            let slot = workerSlot()
            for index in 0..<count { body(index, slot) }
            return
        }
        // Workers call the closure through a pointer and never keep a copy, so once every item has finished
        // nothing holds it and `withoutActuallyEscaping`'s check holds.
        withoutActuallyEscaping(body) { escapable in
            var job: (Int, Int) -> Void = escapable
            withUnsafePointer(to: &job) { jobPointer in
                pthread_mutex_lock(submitMutex)
                pthread_mutex_lock(mutex)
                self.body = jobPointer
                itemCount = count
                caller = pthread_self()
                finished.store(0)
                let loop = (claim.load() >> 32) &+ 1
                claim.store(loop << 32)
                pthread_cond_broadcast(workAvailable)
                pthread_mutex_unlock(mutex)

                runItems(jobPointer, loop: loop, count: count, slot: 0)

                Self.spin { finished.load() >= count }
                pthread_mutex_lock(mutex)
                while finished.load() < count { pthread_cond_wait(workFinished, mutex) }
                self.body = nil
                caller = nil
                pthread_mutex_unlock(mutex)
                pthread_mutex_unlock(submitMutex)
            }
        }
    }

    /// Claims and runs items of loop `loop` until none are left.
    private func runItems(_ job: UnsafePointer<(Int, Int) -> Void>, loop: Int, count: Int, slot: Int) {
        // The closure is copied once for all the items this thread claims: called through the pointer, it retained
        // and released its context per item, an atomic both threads contend on. The copy is made after a claim
        // succeeds (until then the loop may have ended and its closure be gone) and ends with `runClaimed`, before
        // the items count as finished, so `run` never returns while a thread still holds the closure.
        guard let first = claimItem(of: loop, count: count) else { return }
        let ran = runClaimed(first, of: loop, count: count, job: job.pointee, slot: slot)
        if finished.add(ran) + ran == count {
            pthread_mutex_lock(mutex)
            pthread_cond_signal(workFinished)
            pthread_mutex_unlock(mutex)
        }
    }

    /// Runs item `first`, then every further item of loop `loop` this thread claims; returns how many ran.
    private func runClaimed(_ first: Int, of loop: Int, count: Int, job: (Int, Int) -> Void, slot: Int) -> Int {
        var next: Int? = first
        var ran = 0
        while let index = next {
            job(index, slot)
            ran += 1
            next = claimItem(of: loop, count: count)
        }
        return ran
    }

    /// The next unclaimed index of loop `loop`, claimed; nil once none is left or another loop has begun.
    private func claimItem(of loop: Int, count: Int) -> Int? {
        while true {
            let current = claim.load()
            let index = current & 0xFFFF_FFFF
            guard current >> 32 == loop, index < count else { return nil }
            if claim.compareExchange(expected: current, desired: current + 1) { return index }
        }
    }

    private func workerLoop(slot: Int) {
        var seenLoop = 0
        while true {
            Self.spin { claim.load() >> 32 != seenLoop }
            pthread_mutex_lock(mutex)
            while !shuttingDown && (claim.load() >> 32 == seenLoop || body == nil) {
                pthread_cond_wait(workAvailable, mutex)
            }
            if shuttingDown {
                pthread_mutex_unlock(mutex)
                return
            }
            seenLoop = claim.load() >> 32
            let job = body!
            let count = itemCount
            pthread_mutex_unlock(mutex)
            runItems(job, loop: seenLoop, count: count, slot: slot)
        }
    }

    /// Spins until `done()` or for `spinNanoseconds`, reading the clock only every 256 spins.
    @inline(__always)
    private static func spin(until done: () -> Bool) {
        var deadline: UInt64 = 0
        var spins = 0
        while !done() {
            spins += 1
            if spins & 255 != 0 { continue }
            let now = DispatchTime.now().uptimeNanoseconds
            if deadline == 0 {
                deadline = now + spinNanoseconds
            } else if now >= deadline {
                return
            }
        }
    }

    private struct WorkerContext {
        let pool: Unmanaged<ComputePool>
        let slot: Int
    }

    private static func workerEntry(_ raw: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer? {
        let context = raw.assumingMemoryBound(to: WorkerContext.self)
        let (pool, slot) = (context.pointee.pool.takeUnretainedValue(), context.pointee.slot)
        context.deinitialize(count: 1)
        context.deallocate()
        pool.workerLoop(slot: slot)
        return nil
    }

    /// 1…threadCount−1 on a worker thread, 0 on any other thread.
    private func workerSlot() -> Int {
        let me = pthread_self()
        if let index = workers.firstIndex(where: { pthread_equal($0, me) != 0 }) { return index + 1 }
        return 0
    }

    /// Whether the current thread is running a loop body of this pool (a worker, or the caller inside `parallelFor`).
    private func isInsideBody() -> Bool {
        if workerSlot() != 0 { return true }
        let me = pthread_self()
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if let caller { return pthread_equal(caller, me) != 0 }
        return false
    }
}
