import CEpoll
import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

// One epoll instance driven by one thread owns a set of connections. Chosen over a Dispatch read source per
// connection because a ready socket is handled on the thread that polled it: no hop through a dispatch queue per read
// and per write, no per-connection queue or timer objects (time-outs are one sweep over the loop's connections), and
// a thousand idle connections cost one map entry each. Handlers still run on Swift's concurrency pool; they hand
// their response back through the loop's mailbox.
final class EventLoop: @unchecked Sendable {
    // Safe to share: `mailbox` is behind a Mutex and `wakeFD` is a kernel object written atomically; every other
    // property is read and written only on the loop's own thread (inside `run()` and the jobs it runs).

    let shared: ServerShared
    let index: Int
    private let epollFD: Int32
    private let wakeFD: Int32
    private let mailbox = Mutex<(jobs: [@Sendable () -> Void], stopped: Bool)>(([], false))
    private let threadID = Atomic<UInt>(0)
    // Jobs submitted from the loop's own thread: they run at the end of the iteration, without a wake-up.
    private var localJobs: [() -> Void] = []
    private var connections: [UInt64: Connection] = [:]
    private var listeners: [Listener] = []
    private var listenersPaused = false
    private var nextConnectionID: UInt64 = 1
    private var nextLoopForAccept = 0
    private var running = true
    private var nextSweepSeconds = 0.0
    private var dateRefreshedSecond = 0
    /// Scratch buffer every read on this loop goes through.
    let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)
    /// Monotonic time of the current loop iteration.
    private(set) var nowSeconds = 0.0
    /// The `Date` header line for responses, refreshed once a second.
    private(set) var dateHeaderLine: [UInt8] = []
    /// Connections whose TLS layer holds decrypted bytes the socket will not signal again.
    var pendingReads: [UInt64] = []

    private static let wakeToken: UInt64 = 1 << 62
    private static let listenerTokenBit: UInt64 = 1 << 63
    private static let sweepIntervalSeconds = 0.05

    init(index: Int, shared: ServerShared) {
        self.index = index
        self.shared = shared
        epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        wakeFD = eventfd(0, Int32(EFD_NONBLOCK) | Int32(EFD_CLOEXEC))
        precondition(epollFD >= 0 && wakeFD >= 0, "epoll/eventfd creation failed: errno \(errno)")
        register(fd: wakeFD, token: Self.wakeToken, events: EPOLLIN.rawValue)
        refreshDate()
    }

    deinit {
        readBuffer.deallocate()
        close(epollFD)
        close(wakeFD)
    }

    /// Runs `job` on the loop's thread, from any thread; false (and `job` dropped) once the loop has stopped.
    @discardableResult
    func execute(_ job: @escaping @Sendable () -> Void) -> Bool {
        if isOnLoopThread {
            localJobs.append(job)
            return true
        }
        let (accepted, wasEmpty) = mailbox.withLock { state -> (Bool, Bool) in
            guard !state.stopped else { return (false, false) }
            state.jobs.append(job)
            return (true, state.jobs.count == 1)
        }
        if wasEmpty {
            var one: UInt64 = 1
            _ = write(wakeFD, &one, 8)
        }
        return accepted
    }

    private var isOnLoopThread: Bool {
        let id = threadID.load(ordering: .relaxed)
        return id != 0 && pthread_equal(pthread_t(id), pthread_self()) != 0
    }

    /// Polls until `stop()`; then closes every connection it still owns.
    func run() {
        threadID.store(UInt(pthread_self()), ordering: .relaxed)
        var events = [epoll_event](repeating: epoll_event(), count: 512)
        while running {
            let count = epoll_wait(epollFD, &events, Int32(events.count), Int32(Self.sweepIntervalSeconds * 1000))
            nowSeconds = monotonicSeconds()
            for event in events.prefix(Int(max(count, 0))) {
                let token = event.data.u64
                if token == Self.wakeToken {
                    runMailbox()
                } else if token & Self.listenerTokenBit != 0 {
                    acceptConnections(listenerFD: Int32(truncatingIfNeeded: token & 0xffff_ffff))
                } else {
                    connections[token]?.handle(events: event.events)
                }
            }
            while !pendingReads.isEmpty {
                let ids = pendingReads
                pendingReads.removeAll()
                for id in ids { connections[id]?.readAvailable() }
            }
            runLocalJobs()
            if nowSeconds >= nextSweepSeconds { sweep() }
        }
        for connection in Array(connections.values) { connection.forceClose() }
        closeListeners()
        // Handler tasks that prefer this loop may still have jobs queued (cancelled ones must run to finish): run
        // them now; later ones go to the global pool (see `enqueue`).
        let remaining = mailbox.withLock { state in
            state.stopped = true
            defer { state.jobs.removeAll() }
            return state.jobs
        }
        for job in remaining { job() }
        runLocalJobs()
        threadID.store(0, ordering: .relaxed)
    }

    // MARK: Listening and accepting

    func adopt(listeners newListeners: [Listener]) {
        listeners = newListeners
        for listener in listeners {
            register(
                fd: listener.fd, token: Self.listenerTokenBit | UInt64(UInt32(listener.fd)), events: EPOLLIN.rawValue)
        }
    }

    func closeListeners() {
        for listener in listeners {
            epoll_ctl(epollFD, EPOLL_CTL_DEL, listener.fd, nil)
            close(listener.fd)
        }
        listeners.removeAll()
    }

    private func acceptConnections(listenerFD: Int32) {
        guard let listener = listeners.first(where: { $0.fd == listenerFD }) else { return }
        // Bounded so one busy listener cannot starve the connections this loop already serves.
        for _ in 0..<64 {
            var address = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    accept4(listenerFD, $0, &length, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
                }
            }
            guard fd >= 0 else {
                if errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM {
                    // Out of descriptors: level-triggered polling would spin, so pause accepting until the next sweep.
                    pauseListeners()
                }
                return
            }
            let slot: ConnectionSlot
            if let reserved = shared.reserveConnectionSlot() {
                slot = reserved
            } else if let victim = shared.evictOldestProbeWaiter() {
                slot = .probe
                _ = victim.loop.execute { victim.loop.connection(victim.connectionID)?.closeAfterLosingProbeSlot() }
            } else {
                rejectOverLimit(fd: fd)
                continue
            }
            if !listener.isUnix {
                var on: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
            }
            let remote = listener.isUnix ? "unix" : Socket.describe(address)
            let loops = shared.loops
            let target = loops[nextLoopForAccept % loops.count]
            nextLoopForAccept &+= 1
            if target === self {
                adopt(fd: fd, remoteAddress: remote, slot: slot)
            } else {
                target.execute { target.adopt(fd: fd, remoteAddress: remote, slot: slot) }
            }
        }
    }

    /// Over the connection limit: a best-effort 503 on the fresh socket (its send buffer is empty), then close.
    private func rejectOverLimit(fd: Int32) {
        let response = shared.configuration.errorResponder(
            HTTPServerError(status: 503, message: "too many connections"))
        var bytes = ResponseWriter.head(
            status: response.status, headers: response.headers, contentLength: response.body.count, close: true,
            keepAliveHeader: false, dateLine: dateHeaderLine)
        bytes += response.body
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        close(fd)
    }

    private func pauseListeners() {
        guard !listenersPaused else { return }
        listenersPaused = true
        for listener in listeners { epoll_ctl(epollFD, EPOLL_CTL_DEL, listener.fd, nil) }
    }

    func adopt(fd: Int32, remoteAddress: String, slot: ConnectionSlot) {
        guard running, !shared.isDraining else {
            close(fd)
            shared.releaseConnectionSlot(slot)
            return
        }
        let id = nextConnectionID
        nextConnectionID += 1
        let connection = Connection(id: id, fd: fd, loop: self, remoteAddress: remoteAddress, slot: slot)
        connections[id] = connection
        register(fd: fd, token: id, events: connection.interest)
        connection.start()
    }

    // MARK: Connections

    func connection(_ id: UInt64) -> Connection? { connections[id] }

    func forget(_ connection: Connection) {
        connections[connection.id] = nil
        if connection.ownsSlot { shared.releaseConnectionSlot(connection.slot) }
    }

    func register(fd: Int32, token: UInt64, events: UInt32) {
        var event = epoll_event(events: events, data: epoll_data_t(u64: token))
        epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event)
    }

    func modify(fd: Int32, token: UInt64, events: UInt32) {
        var event = epoll_event(events: events, data: epoll_data_t(u64: token))
        epoll_ctl(epollFD, EPOLL_CTL_MOD, fd, &event)
    }

    /// Graceful shutdown, step one: idle connections close now, busy ones after their current response.
    func beginDrain() {
        closeListeners()
        for connection in Array(connections.values) { connection.drain() }
    }

    /// Graceful shutdown, last step: whatever is still open is closed, and running handlers are cancelled.
    func closeAll() {
        for connection in Array(connections.values) { connection.forceClose() }
    }

    func stop() { running = false }

    private func runMailbox() {
        var drained: UInt64 = 0
        _ = read(wakeFD, &drained, 8)
        let jobs = mailbox.withLock { state in
            let taken = state.jobs
            state.jobs.removeAll(keepingCapacity: true)
            return taken
        }
        for job in jobs { job() }
    }

    private func runLocalJobs() {
        while !localJobs.isEmpty {
            let jobs = localJobs
            localJobs.removeAll(keepingCapacity: true)
            for job in jobs { job() }
        }
    }

    private func sweep() {
        nextSweepSeconds = nowSeconds + Self.sweepIntervalSeconds
        refreshDate()
        if listenersPaused {
            listenersPaused = false
            for listener in listeners {
                register(
                    fd: listener.fd, token: Self.listenerTokenBit | UInt64(UInt32(listener.fd)),
                    events: EPOLLIN.rawValue)
            }
        }
        for connection in Array(connections.values) { connection.checkDeadlines(nowSeconds: nowSeconds) }
    }

    private func refreshDate() {
        var now = time(nil)
        guard Int(now) != dateRefreshedSecond else { return }
        dateRefreshedSecond = Int(now)
        var parts = tm()
        gmtime_r(&now, &parts)
        var text = [CChar](repeating: 0, count: 64)
        let length = strftime(&text, text.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
        dateHeaderLine = Array("date: ".utf8) + text.prefix(length).map { UInt8(bitPattern: $0) } + [13, 10]
    }
}

func monotonicSeconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) * 1e-9
}

/// Handler tasks can prefer the loop as their executor: they then start, and resume after awaits, on the thread that
/// owns their connection, with no hand-off to the concurrency pool and back.
extension EventLoop: TaskExecutor {
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let ran = execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
        if !ran {
            // The loop is gone (shutdown); the task must still run to its end.
            DispatchQueue.global().async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
        }
    }
}
