// Helpers shared by the libFuzzer harnesses (compiled into each by scripts/check/fuzz, next to the module sources).
//
// The harnesses are compiled with the same optimisation flags as their module, which for Tokenizers is -Ounchecked:
// `precondition` and `assert` vanish there, so every invariant goes through `fuzzCheck`, which always aborts.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Aborts with `message` when `condition` is false (libFuzzer then saves the input as a crash).
@inline(never)
func fuzzCheck(_ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) {
    if condition { return }
    fuzzFail(message(), file: file, line: line)
}

@inline(never)
func fuzzFail(_ message: String, file: StaticString = #fileID, line: UInt = #line) -> Never {
    printError("FUZZ INVARIANT VIOLATED (\(file):\(line)): \(message)")
    abort()
}

/// A line on standard error (unbuffered: it must be out before an abort).
func printError(_ line: String) {
    var bytes = Array((line + "\n").utf8)
    var offset = 0
    while offset < bytes.count {
        let count = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + offset, $0.count - offset) }
        if count <= 0 { return }
        offset += count
    }
}

/// An environment variable, nil when unset or empty.
func environment(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    let text = String(cString: value)
    return text.isEmpty ? nil : text
}

/// The whole file, or nil.
func readFileBytes(_ path: String) -> [UInt8]? {
    guard let file = fopen(path, "rb") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
        if count == 0 { break }
        bytes += chunk[0..<count]
    }
    return bytes
}

/// Writes (replaces) a file; aborts on failure, since a harness that cannot write its scratch file tests nothing.
func writeFileBytes(_ path: String, _ bytes: some Collection<UInt8>) {
    let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    fuzzCheck(descriptor >= 0, "cannot create \(path): \(String(cString: strerror(errno)))")
    let array = Array(bytes)
    var written = 0
    array.withUnsafeBytes { buffer in
        while written < buffer.count {
            let count = write(descriptor, buffer.baseAddress! + written, buffer.count - written)
            if count < 0 && errno == EINTR { continue }
            fuzzCheck(count > 0, "cannot write \(path)")
            written += count
        }
    }
    close(descriptor)
}

/// A private scratch directory on tmpfs (/dev/shm, else $TMPDIR or /tmp) for harnesses whose entry point takes a path.
/// Removed at exit; one per process, so parallel fuzzers do not share files.
func makeScratchDirectory(_ tag: String) -> String {
    var base = "/dev/shm"
    var info = stat()
    if stat(base, &info) != 0 { base = environment("TMPDIR") ?? "/tmp" }
    removeStaleScratchDirectories(in: base, prefix: "embed-fuzz-\(tag)-")
    let path = "\(base)/embed-fuzz-\(tag)-\(getpid())"
    mkdir(path, 0o700)
    fuzzCheck(stat(path, &info) == 0, "cannot create scratch directory \(path)")
    scratchDirectories.append(path)
    if scratchDirectories.count == 1 { atexit { removeScratchDirectories() } }
    return path
}

nonisolated(unsafe) private var scratchDirectories: [String] = []

/// A crash skips atexit: the directories of harness processes that are gone are removed by the next one.
private func removeStaleScratchDirectories(in base: String, prefix: String) {
    guard let listing = opendir(base) else { return }
    var stale: [String] = []
    while let entry = readdir(listing) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard name.hasPrefix(prefix), let pid = Int32(name.dropFirst(prefix.count)) else { continue }
        if kill(pid, 0) != 0 && errno == ESRCH { stale.append(base + "/" + name) }
    }
    closedir(listing)
    removeDirectories(stale)
}

private func removeScratchDirectories() { removeDirectories(scratchDirectories) }

private func removeDirectories(_ directories: [String]) {
    for directory in directories {
        if let listing = opendir(directory) {
            while let entry = readdir(listing) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name != "." && name != ".." { unlink(directory + "/" + name) }
            }
            closedir(listing)
        }
        rmdir(directory)
    }
}

/// A deterministic small number from the input, for choices a harness makes per input (split points, limits).
func inputHash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in bytes { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    return h ^ (h >> 29)
}

/// Runs `body` on a new thread with a `kilobytes` stack and waits for it. The harnesses whose parsers recurse run
/// each input this way, so inputs of libFuzzer's few KB can reach a recursion that overflows a thread's stack
/// (main's 8 MB would need 20,000+ levels, far past -max_len).
func onThread(stackKilobytes kilobytes: Int, _ body: () -> Void) {
    withoutActuallyEscaping(body) { escapable in
        final class Box { let body: () -> Void; init(_ body: @escaping () -> Void) { self.body = body } }
        let box = Unmanaged.passRetained(Box(escapable))
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setstacksize(&attributes, kilobytes * 1024)
        var thread = pthread_t()
        let status = pthread_create(&thread, &attributes, { context in
            Unmanaged<Box>.fromOpaque(context!).takeRetainedValue().body()
            return nil
        }, box.toOpaque())
        pthread_attr_destroy(&attributes)
        fuzzCheck(status == 0, "pthread_create failed: \(status)")
        pthread_join(thread, nil)
    }
}

/// FUZZ_STACK_KB (default 512): the stack of the thread `onThread` runs inputs on.
let fuzzStackKilobytes: Int = environment("FUZZ_STACK_KB").flatMap { Int($0) } ?? 512
