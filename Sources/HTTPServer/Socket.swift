import CEpoll

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Why the server could not start listening.
package enum HTTPServerStartError: Error, CustomStringConvertible, Sendable {
    /// getaddrinfo could not resolve the hostname.
    case cannotResolve(host: String, reason: String)
    /// A socket call failed (names the call and errno's text).
    case socketCall(String, errno: Int32)
    /// The Unix socket path is too long for sockaddr_un.
    case unixSocketPathTooLong(String)
    /// A non-socket file, or a socket another process is serving, exists at the Unix socket path.
    case unixSocketPathInUse(String)
    /// TLS files could not be loaded (OpenSSL's reason).
    case tls(String)
    /// `start()` was called twice.
    case alreadyStarted

    package var description: String {
        switch self {
        case .cannotResolve(let host, let reason): "cannot resolve \(host): \(reason)"
        case .socketCall(let call, let code): "\(call) failed: \(String(cString: strerror(code)))"
        case .unixSocketPathTooLong(let path): "Unix socket path too long: \(path)"
        case .unixSocketPathInUse(let path): "Unix socket path in use: \(path)"
        case .tls(let reason): "TLS setup failed: \(reason)"
        case .alreadyStarted: "server already started"
        }
    }
}

/// A listening socket and what it is bound to.
struct Listener {
    let fd: Int32
    let port: Int?
    let isUnix: Bool
}

enum Socket {
    /// Pending-connection queue length (the kernel caps it at net.core.somaxconn): a burst of clients should wait
    /// in it, not be dropped and retried after a second.
    static let backlog: Int32 = 4096

    static func listenTCP(host: String, port: Int) throws(HTTPServerStartError) -> [Listener] {
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let list else {
            throw .cannotResolve(host: host, reason: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(list) }
        var listeners: [Listener] = []
        var boundPort = port
        var firstError: HTTPServerStartError?
        var families: Set<Int32> = []
        var scan: UnsafeMutablePointer<addrinfo>? = list
        while let info = scan?.pointee {
            families.insert(info.ai_family)
            scan = info.ai_next
        }
        // An IPv6 socket also takes IPv4 clients (so `::` means every address) unless the name resolved to IPv4
        // addresses too, which then get sockets of their own.
        let v6Only = families.contains(AF_INET)
        var entry: UnsafeMutablePointer<addrinfo>? = list
        while let info = entry?.pointee {
            entry = info.ai_next
            guard let address = info.ai_addr else { continue }
            do throws(HTTPServerStartError) {
                // With port 0 every address of the name gets the port the first one was given.
                let fd = try bind(
                    family: info.ai_family, address: address, length: info.ai_addrlen, port: boundPort, v6Only: v6Only)
                boundPort = localPort(fd) ?? boundPort
                listeners.append(Listener(fd: fd, port: boundPort, isUnix: false))
            } catch {
                firstError = firstError ?? error
            }
        }
        // A name may resolve to addresses that cannot all be bound (no IPv6 on the host); one is enough.
        guard !listeners.isEmpty else { throw firstError ?? .cannotResolve(host: host, reason: "no addresses") }
        return listeners
    }

    private static func bind(
        family: Int32, address: UnsafeMutablePointer<sockaddr>, length: socklen_t, port: Int, v6Only: Bool
    ) throws(HTTPServerStartError) -> Int32 {
        let fd = socket(
            family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .socketCall("socket", errno: errno) }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        if family == AF_INET6 {
            var flag: Int32 = v6Only ? 1 : 0
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &flag, socklen_t(MemoryLayout<Int32>.size))
        }
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) {
            $0.copyMemory(from: UnsafeRawBufferPointer(start: address, count: Int(length)))
        }
        setPort(&storage, port)
        let bound = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, length) }
        }
        guard bound == 0 else {
            let code = errno
            close(fd)
            throw .socketCall("bind", errno: code)
        }
        guard listen(fd, Self.backlog) == 0 else {
            let code = errno
            close(fd)
            throw .socketCall("listen", errno: code)
        }
        return fd
    }

    static func listenUnix(path: String) throws(HTTPServerStartError) -> Listener {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw .unixSocketPathTooLong(path) }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: pathBytes) }
        try removeStaleSocket(path: path, address: address)
        let fd = socket(
            AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .socketCall("socket", errno: errno) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0, chmod(path, 0o660) == 0, listen(fd, Self.backlog) == 0 else {
            let code = errno
            close(fd)
            throw .socketCall("bind/listen \(path)", errno: code)
        }
        return Listener(fd: fd, port: nil, isUnix: true)
    }

    /// Removes a socket file left by a process that is gone; refuses to touch anything else.
    private static func removeStaleSocket(path: String, address: sockaddr_un) throws(HTTPServerStartError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else { throw .unixSocketPathInUse(path) }
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(probe) }
        var address = address
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(probe, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected != 0 else { throw .unixSocketPathInUse(path) }
        unlink(path)
    }

    static func localPort(_ fd: Int32) -> Int? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard status == 0 else { return nil }
        return port(of: storage)
    }

    private static func port(of storage: sockaddr_storage) -> Int? {
        var storage = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafeBytes(of: &storage) { Int(UInt16(bigEndian: $0.load(fromByteOffset: 2, as: UInt16.self))) }
        case AF_INET6:
            return withUnsafeBytes(of: &storage) { Int(UInt16(bigEndian: $0.load(fromByteOffset: 2, as: UInt16.self))) }
        default:
            return nil
        }
    }

    private static func setPort(_ storage: inout sockaddr_storage, _ port: Int) {
        // sin_port and sin6_port both sit at offset 2, in network byte order.
        withUnsafeMutableBytes(of: &storage) {
            $0.storeBytes(of: UInt16(port).bigEndian, toByteOffset: 2, as: UInt16.self)
        }
    }

    /// `address:port`, `[address]:port` or `unix` for a peer address.
    static func describe(_ storage: sockaddr_storage) -> String {
        var copy = storage
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let family = Int32(storage.ss_family)
        guard family == AF_INET || family == AF_INET6 else { return "unix" }
        let port = port(of: storage) ?? 0
        withUnsafeBytes(of: &copy) { raw in
            if family == AF_INET {
                var address = raw.load(fromByteOffset: 4, as: in_addr.self)
                _ = inet_ntop(AF_INET, &address, &text, socklen_t(text.count))
            } else {
                var address = raw.load(fromByteOffset: 8, as: in6_addr.self)
                _ = inet_ntop(AF_INET6, &address, &text, socklen_t(text.count))
            }
        }
        let host = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return family == AF_INET ? "\(host):\(port)" : "[\(host)]:\(port)"
    }
}
