import CEpoll

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// One client connection, owned by one event loop and touched only on its thread.
///
/// Requests are answered one at a time, in order: the next pipelined request is parsed only once the previous
/// response is queued and the output buffer is below its high-water mark, so responses can never be reordered.
final class Connection {
    enum Phase {
        /// Between requests; nothing of the next one has arrived (idle time-out).
        case awaitingRequest
        /// Part of a request head has arrived (header time-out).
        case readingHead
        /// The head is parsed; body bytes are arriving (body time-out between reads).
        case readingBody
        /// The handler task runs; a peer that goes away cancels it.
        case handling(Task<Void, Never>)
        /// The last response is being written; the connection closes after it.
        case closing
        /// Our side is shut down for writing; unread client bytes are drained so the kernel does not answer them
        /// with a reset that would destroy the response before the client reads it.
        case lingering
        case closed
    }

    let id: UInt64
    let fd: Int32
    unowned let loop: EventLoop
    let remoteAddress: String
    let slot: ConnectionSlot
    private let tls: TLSSession?
    private var parser: HTTPRequestParser
    private(set) var phase: Phase = .awaitingRequest
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var closeAfterResponse = false
    private var output: [UInt8] = []
    private var outputSent = 0
    private var peerClosed = false
    private var tlsReadNeedsWritable = false
    private var tlsWriteNeedsReadable = false
    private var readDeadlineSeconds = Double.infinity
    private var bodyDeadlineSeconds = Double.infinity
    /// On a probe slot, until a probe request head arrives: registered as a `ProbeWaiter` a newer connection may evict.
    private var evictableFromProbeSlot = false
    /// False once an evicting connection took over this connection's probe slot (it releases it, not this one).
    private(set) var ownsSlot = true
    /// Bytes of the server's buffer budget held for the current request's body.
    private var bodyReservedBytes = 0
    private var writeDeadlineSeconds = Double.infinity
    private var registeredEvents: UInt32 = 0

    /// Unparsed input kept while a handler runs (reading goes on only to notice a client that leaves).
    private static let maxBufferedInputBytes = 65536
    /// Output above which the next pipelined request waits.
    private static let outputHighWaterBytes = 65536
    private static let lingerSeconds = 2.0
    /// Time a probe slot has from its connect to the end of its request head: a kubelet probe gives up after 1 s
    /// by default, and a connection that idles longer only keeps the reserve from the next probe.
    private static let probeHeadSeconds = 2.0

    init(id: UInt64, fd: Int32, loop: EventLoop, remoteAddress: String, slot: ConnectionSlot) {
        self.id = id
        self.fd = fd
        self.loop = loop
        self.remoteAddress = remoteAddress
        self.slot = slot
        tls = loop.shared.tls?.makeSession(fd: fd)
        parser = HTTPRequestParser(limits: loop.shared.configuration.parserLimits)
        registeredEvents = interest
    }

    private var configuration: ServerConfiguration { loop.shared.configuration }
    private var pendingOutputBytes: Int { output.count - outputSent }

    /// The epoll events this connection wants now.
    var interest: UInt32 {
        var events: UInt32 = 0
        let wantsInput: Bool
        switch phase {
        case .awaitingRequest, .readingHead, .readingBody, .handling, .lingering:
            wantsInput = !peerClosed && parser.bufferedByteCount < Self.maxBufferedInputBytes
        case .closing, .closed:
            wantsInput = false
        }
        if wantsInput || tlsWriteNeedsReadable { events |= EPOLLIN.rawValue }
        if !peerClosed { events |= EPOLLRDHUP.rawValue }
        if pendingOutputBytes > 0 || tlsReadNeedsWritable { events |= EPOLLOUT.rawValue }
        return events
    }

    func start() {
        if tls == nil && loop.shared.tls != nil {
            forceClose()
            return
        }
        let idle = configuration.idleTimeoutSeconds
        readDeadlineSeconds = loop.nowSeconds + (slot == .probe ? min(idle, Self.probeHeadSeconds) : idle)
        if slot == .probe {
            evictableFromProbeSlot = true
            loop.shared.addProbeWaiter(ProbeWaiter(loop: loop, connectionID: id))
        }
    }

    /// Leaves the evictable probe-slot connections; false (the slot now belongs to a newer connection) if this one was
    /// evicted already.
    private func leaveProbeWaiters() -> Bool {
        guard evictableFromProbeSlot else { return true }
        evictableFromProbeSlot = false
        if loop.shared.removeProbeWaiter(ProbeWaiter(loop: loop, connectionID: id)) { return true }
        ownsSlot = false
        return false
    }

    /// A newer connection took this connection's probe slot before a probe request head arrived.
    func closeAfterLosingProbeSlot() {
        guard evictableFromProbeSlot else { return }
        evictableFromProbeSlot = false
        ownsSlot = false
        forceClose()
    }

    // MARK: Events

    func handle(events: UInt32) {
        if events & EPOLLERR.rawValue != 0 {
            forceClose()
            return
        }
        if events & EPOLLOUT.rawValue != 0 {
            if tlsReadNeedsWritable { readAvailable() }
            if isOpen { flush() }
            // Output fell below the high-water mark: a pipelined request may be waiting in the parser.
            if isOpen { processInput() }
        }
        if isOpen, events & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue | EPOLLHUP.rawValue) != 0 {
            if tlsWriteNeedsReadable { flush() }
            if isOpen { readAvailable() }
            // The peer hung up but input is paused (buffer full while a handler runs): it is gone all the same.
            if isOpen, !peerClosed, events & (EPOLLRDHUP.rawValue | EPOLLHUP.rawValue) != 0,
                interest & EPOLLIN.rawValue == 0
            {
                peerDidClose()
            }
        }
        updateInterest()
    }

    private var isOpen: Bool {
        if case .closed = phase { return false }
        return true
    }

    /// Reads what the transport has, up to the input cap, then parses.
    func readAvailable() {
        tlsReadNeedsWritable = false
        var sawEnd = false
        reading: while isOpen, !peerClosed, parser.bufferedByteCount < Self.maxBufferedInputBytes {
            switch readOnce() {
            case .bytes(let count):
                if case .lingering = phase { continue }
                parser.append(UnsafeRawBufferPointer(rebasing: loop.readBuffer[0..<count]))
                if tls == nil && count < loop.readBuffer.count { break reading }
            case .wouldBlock:
                break reading
            case .needsWritable:
                tlsReadNeedsWritable = true
                break reading
            case .closed:
                sawEnd = true
                break reading
            case .failed:
                forceClose()
                return
            }
        }
        if let tls, tls.hasPendingBytes, parser.bufferedByteCount < Self.maxBufferedInputBytes {
            loop.pendingReads.append(id)
        }
        processInput()
        if sawEnd && isOpen { peerDidClose() }
        if isOpen { updateInterest() }
    }

    private func readOnce() -> TransportRead {
        if let tls { return tls.read(into: loop.readBuffer) }
        let count = recv(fd, loop.readBuffer.baseAddress, loop.readBuffer.count, 0)
        if count > 0 { return .bytes(count) }
        if count == 0 { return .closed }
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? .wouldBlock : .failed
    }

    private func peerDidClose() {
        peerClosed = true
        switch phase {
        case .handling(let task):
            task.cancel()
            forceClose()
        case .awaitingRequest:
            if pendingOutputBytes > 0 { phase = .closing } else { forceClose() }
        case .readingHead, .readingBody:
            forceClose()
        case .closing:
            if pendingOutputBytes == 0 { forceClose() }
        case .lingering:
            forceClose()
        case .closed:
            break
        }
    }

    // MARK: Requests

    private func processInput() {
        while true {
            switch phase {
            case .awaitingRequest, .readingHead, .readingBody: break
            case .handling, .closing, .lingering, .closed: return
            }
            guard pendingOutputBytes <= Self.outputHighWaterBytes else { return }
            let event: HTTPParserEvent?
            do {
                event = try parser.next()
            } catch {
                respondWithError(status: error.status, message: error.message)
                return
            }
            guard let event else {
                if case .awaitingRequest = phase, parser.bufferedByteCount > 0 {
                    phase = .readingHead
                    let headDeadline = loop.nowSeconds + configuration.headerTimeoutSeconds
                    // A probe slot keeps the short deadline of its connect.
                    readDeadlineSeconds = slot == .probe ? min(readDeadlineSeconds, headDeadline) : headDeadline
                }
                return
            }
            switch event {
            case .head(let newHead):
                head = newHead
                body = []
                if slot == .probe {
                    // A non-probe request is answered 503 and stays evictable while that answer drains.
                    guard loop.shared.isProbe(newHead) else {
                        respondWithError(status: 503, message: "too many connections")
                        return
                    }
                    guard leaveProbeWaiters() else {
                        forceClose()
                        return
                    }
                }
                if case .length(let length) = newHead.framing, length > 0, !reserveBody(length) { return }
                phase = .readingBody
                bodyDeadlineSeconds = loop.nowSeconds + configuration.bodyDeadlineSeconds
                readDeadlineSeconds = min(loop.nowSeconds + configuration.bodyTimeoutSeconds, bodyDeadlineSeconds)
                if newHead.expectsContinue, newHead.framing != .length(0), parser.bufferedByteCount == 0 {
                    enqueueOutput(ResponseWriter.continueLine)
                    flush()
                }
            case .body(let bytes):
                if head?.framing == .chunked, !reserveBody(bytes.count) { return }
                body += bytes
                readDeadlineSeconds = min(loop.nowSeconds + configuration.bodyTimeoutSeconds, bodyDeadlineSeconds)
            case .end:
                // Trailer fields are dropped: they arrive after the head a proxy in front checked (RFC 9110 §6.5.1).
                guard let head else { return }
                startHandler(head: head)
            }
        }
    }

    /// Takes body bytes from the server's buffer budget; when they do not fit, answers 503 and returns false.
    private func reserveBody(_ count: Int) -> Bool {
        guard loop.shared.reserveBufferBytes(count) else {
            respondWithError(status: 503, message: "server busy: too many request bytes buffered", retryAfterSeconds: 1)
            return false
        }
        bodyReservedBytes += count
        return true
    }

    private func startHandler(head: HTTPRequestHead) {
        let request = HTTPRequest(
            method: head.method, path: head.path, query: head.query, version: head.version, headers: head.headers,
            body: body, remoteAddress: remoteAddress)
        body = []
        // A probe slot serves one request, so the reserve is free again for the next probe.
        closeAfterResponse = !head.keepAlive || slot == .probe
        readDeadlineSeconds = .infinity
        let shared = loop.shared
        if let preflight = shared.preflightResponse(for: request) {
            queue(shared.finish(preflight, for: request))
            return
        }
        let loop = self.loop
        let id = self.id
        let work: @Sendable () async -> Void = {
            let response = await shared.respond(to: request)
            let queued = loop.execute {
                loop.connection(id)?.handlerDidFinish(response)
                response.afterSend?()
            }
            if !queued { response.afterSend?() }
        }
        let task =
            switch configuration.handlerExecution {
            case .concurrencyPool: Task(operation: work)
            case .eventLoop: Task.immediate(executorPreference: loop, operation: work)
            }
        phase = .handling(task)
    }

    private func handlerDidFinish(_ response: PreparedResponse) {
        guard case .handling = phase else { return }
        queue(response)
        updateInterest()
    }

    /// Frames a response, queues and starts writing it, then goes on with the next request.
    private func queue(_ response: PreparedResponse) {
        // The request's body is answered, so its bytes no longer count; the response's do until they are sent.
        loop.shared.releaseBufferBytes(bodyReservedBytes)
        bodyReservedBytes = 0
        bodyDeadlineSeconds = .infinity
        let close = closeAfterResponse || loop.shared.isDraining
        enqueueOutput(
            ResponseWriter.head(
                status: response.status, headers: response.headers, contentLength: response.contentLength, close: close,
                keepAliveHeader: head?.version == .http10, dateLine: loop.dateHeaderLine))
        enqueueOutput(response.body)
        head = nil
        if close {
            phase = .closing
        } else {
            phase = .awaitingRequest
            readDeadlineSeconds = loop.nowSeconds + configuration.idleTimeoutSeconds
        }
        flush()
        if isOpen { processInput() }
    }

    /// Answers a request the server rejects itself, then closes (framing is lost after a parse error).
    private func respondWithError(status: Int, message: String, retryAfterSeconds: Int? = nil) {
        var error = loop.shared.errorResponse(status: status, message: message)
        if let retryAfterSeconds { error.headers.replaceOrAdd(name: "retry-after", value: String(retryAfterSeconds)) }
        let request = HTTPRequest(
            method: head?.method ?? "GET", path: head?.path ?? "/", headers: head?.headers ?? HTTPHeaders())
        closeAfterResponse = true
        queue(loop.shared.finish(error, for: request))
    }

    // MARK: Output

    private func enqueueOutput(_ bytes: [UInt8]) {
        output += bytes
        loop.shared.chargeBufferBytes(bytes.count)
    }

    private func flush() {
        tlsWriteNeedsReadable = false
        // The clock starts when output is queued, so a client that never reads cannot hold its connection forever.
        if pendingOutputBytes > 0 && writeDeadlineSeconds == .infinity {
            writeDeadlineSeconds = loop.nowSeconds + configuration.writeTimeoutSeconds
        }
        while pendingOutputBytes > 0 {
            let result = output.withUnsafeBytes { raw in
                writeOnce(UnsafeRawBufferPointer(rebasing: raw[outputSent...]))
            }
            switch result {
            case .wrote(let count):
                outputSent += count
                loop.shared.releaseBufferBytes(count)
                writeDeadlineSeconds = loop.nowSeconds + configuration.writeTimeoutSeconds
            case .wouldBlock:
                break
            case .needsReadable:
                tlsWriteNeedsReadable = true
            case .failed:
                forceClose()
                return
            }
            if case .wrote = result { continue }
            break
        }
        if pendingOutputBytes == 0 {
            output.removeAll(keepingCapacity: output.capacity <= 1 << 20)
            outputSent = 0
            writeDeadlineSeconds = .infinity
            if case .closing = phase { startLingering() }
        } else if outputSent >= 1 << 20 {
            output.removeSubrange(0..<outputSent)
            outputSent = 0
        }
    }

    private func writeOnce(_ bytes: UnsafeRawBufferPointer) -> TransportWrite {
        if let tls { return tls.write(bytes) }
        let count = send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
        if count >= 0 { return .wrote(count) }
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? .wouldBlock : .failed
    }

    private func startLingering() {
        guard !peerClosed else {
            forceClose()
            return
        }
        tls?.shutdown()
        Glibc.shutdown(fd, Int32(SHUT_WR))
        phase = .lingering
        readDeadlineSeconds = loop.nowSeconds + Self.lingerSeconds
        // Its answer is sent: a probe slot that lingers for a client slow to close may go to a newer connection.
        if slot == .probe, ownsSlot, !evictableFromProbeSlot {
            evictableFromProbeSlot = true
            loop.shared.addProbeWaiter(ProbeWaiter(loop: loop, connectionID: id))
        }
    }

    private func updateInterest() {
        guard isOpen else { return }
        let wanted = interest
        if wanted != registeredEvents {
            registeredEvents = wanted
            loop.modify(fd: fd, token: id, events: wanted)
        }
    }

    // MARK: Time-outs and shutdown

    func checkDeadlines(nowSeconds: Double) {
        if nowSeconds >= writeDeadlineSeconds {
            forceClose()
            return
        }
        guard nowSeconds >= readDeadlineSeconds else { return }
        switch phase {
        case .readingHead, .readingBody:
            respondWithError(status: 408, message: "request timed out")
            updateInterest()
        case .awaitingRequest where pendingOutputBytes > 0:
            break
        case .awaitingRequest, .lingering:
            forceClose()
        case .handling, .closing, .closed:
            break
        }
    }

    /// Idle connections close now; a connection in the middle of a request closes after answering it.
    func drain() {
        if case .lingering = phase {
            forceClose()
            return
        }
        guard case .awaitingRequest = phase else { return }
        if pendingOutputBytes > 0 {
            phase = .closing
            updateInterest()
        } else {
            forceClose()
        }
    }

    /// Closes at once, cancelling a running handler.
    func forceClose() {
        if case .handling(let task) = phase { task.cancel() }
        guard isOpen else { return }
        phase = .closed
        _ = leaveProbeWaiters()
        loop.shared.releaseBufferBytes(bodyReservedBytes + pendingOutputBytes)
        if let tls { tls.free() }
        close(fd)
        loop.forget(self)
    }
}
