import Foundation
import TestSupport
import Testing

/// Runs docker/entrypoint.sh as the container would, with a stand-in server binary that records its argv and PID.
@Suite("Container entrypoint (docker/entrypoint.sh)")
struct EntrypointTests {
    static let entrypoint = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../docker/entrypoint.sh").standardizedFileURL.path

    /// The container's environment as docker/Dockerfile sets it, plus the HOSTNAME Docker gives (the container id).
    static let imageEnvironment = [
        "MODEL_ID": "google/embeddinggemma-300m", "PORT": "80", "HUGGINGFACE_HUB_CACHE": "/data",
        "HOME": "/data", "HOSTNAME": "3f2a9c1b7d4e", "PATH": "/usr/bin:/bin",
    ]

    @Test("no arguments: serve, with --hostname 0.0.0.0 because HOSTNAME is the container id")
    func defaultCommand() throws {
        let run = try EntrypointRun(arguments: [], environment: Self.imageEnvironment)
        #expect(run.status == 0)
        #expect(run.argv == ["serve", "--hostname", "0.0.0.0"])
    }

    @Test("flags are serve's flags, kept in order after the entrypoint's own")
    func flagsGoToServe() throws {
        let run = try EntrypointRun(
            arguments: ["--max-batch-tokens", "8192", "--json-output"], environment: Self.imageEnvironment)
        #expect(run.argv == ["serve", "--hostname", "0.0.0.0", "--max-batch-tokens", "8192", "--json-output"])
    }

    @Test(
        "a HOSTNAME that is an address, or an explicit --hostname, is left to the server",
        arguments: [
            (["HOSTNAME": "10.1.2.3"], [String]()), (["HOSTNAME": "::"], []), (["HOSTNAME": "fd00::1"], []),
            (["HOSTNAME": "embed-server-7d9f8-x2x"], ["--hostname=127.0.0.1"]),
        ])
    func hostnameKept(extra: [String: String], arguments: [String]) throws {
        let run = try EntrypointRun(arguments: arguments, environment: Self.imageEnvironment.merging(extra) { $1 })
        #expect(run.argv == ["serve"] + arguments)
    }

    @Test("a pod name in HOSTNAME is replaced by 0.0.0.0 so probes and port-forwarding reach the server")
    func podName() throws {
        let run = try EntrypointRun(
            arguments: [], environment: Self.imageEnvironment.merging(["HOSTNAME": "embed-server-7d9f8-x2x"]) { $1 })
        #expect(run.argv == ["serve", "--hostname", "0.0.0.0"])
    }

    @Test("other subcommands pass through untouched, and any other command runs as is")
    func passThrough() throws {
        let embed = try EntrypointRun(arguments: ["embed", "--text", "hi"], environment: Self.imageEnvironment)
        #expect(embed.argv == ["embed", "--text", "hi"])
        let tokenize = try EntrypointRun(arguments: ["tokenize"], environment: Self.imageEnvironment)
        #expect(tokenize.argv == ["tokenize"])
        let shell = try EntrypointRun(arguments: ["sh", "-c", "echo from-shell"], environment: Self.imageEnvironment)
        #expect(shell.status == 0 && shell.output.contains("from-shell") && shell.argv == nil)
    }

    @Test("an image built for haswell stops with a clear message on a CPU without AVX2, and starts on one with it")
    func cpuCheck() throws {
        let directory = try FileManager.default.url(
            for: .itemReplacementDirectory, in: .userDomainMask,
            appropriateFor: URL(fileURLWithPath: "/tmp"), create: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let old = directory.appendingPathComponent("cpuinfo-old")
        let new = directory.appendingPathComponent("cpuinfo-new")
        try "processor\t: 0\nflags\t\t: fpu sse2 ssse3 sse4_1 sse4_2 avx popcnt\n".write(
            to: old, atomically: true, encoding: .utf8)
        try "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma bmi1 bmi2 avx512f\n".write(
            to: new, atomically: true, encoding: .utf8)
        let built = Self.imageEnvironment.merging(["EMBED_TARGET_CPU": "haswell"]) { $1 }
        let refused = try EntrypointRun(arguments: [], environment: built.merging(["EMBED_CPUINFO": old.path]) { $1 })
        #expect(refused.status == 64 && refused.argv == nil)
        #expect(refused.output.contains("EMBED_TARGET_CPU=haswell and this CPU lacks avx2"))
        let started = try EntrypointRun(arguments: [], environment: built.merging(["EMBED_CPUINFO": new.path]) { $1 })
        #expect(started.status == 0 && started.argv == ["serve", "--hostname", "0.0.0.0"])
    }

    @Test(
        "an invalid PORT or an empty MODEL_ID stops with a clear error before the server starts",
        arguments: [
            (["PORT": "http"], "PORT='http' is not a port number"),
            (["PORT": "70000"], "PORT=70000 is outside 1-65535"),
            (["MODEL_ID": ""], "MODEL_ID is empty"),
        ])
    func badSettings(extra: [String: String], message: String) throws {
        let run = try EntrypointRun(arguments: [], environment: Self.imageEnvironment.merging(extra) { $1 })
        #expect(run.status == 64)
        #expect(run.output.contains(message))
        #expect(run.argv == nil)
    }

    @Test("port 80 as a non-root user where the kernel forbids it stops with a hint to use 8080 or the sysctl")
    func privilegedPort() throws {
        let lowest =
            (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_unprivileged_port_start", encoding: .utf8))
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 1024
        let run = try EntrypointRun(arguments: [], environment: Self.imageEnvironment, unprivileged: true)
        if lowest > 80 {
            #expect(
                run.status == 64 && run.output.contains("PORT=80 needs root here") && run.output.contains("PORT=8080"))
        } else {
            #expect(run.status == 0 && run.argv == ["serve", "--hostname", "0.0.0.0"])
        }
    }

    @Test("a missing server binary is reported with its path")
    func missingBinary() throws {
        let run = try EntrypointRun(
            arguments: [], environment: Self.imageEnvironment, binary: "/nonexistent/embed-server")
        #expect(run.status == 64 && run.output.contains("/nonexistent/embed-server is missing"))
    }

    @Test("the server replaces the entrypoint (same PID), so SIGTERM reaches it and its exit status is the container's")
    func signalReachesServer() throws {
        let run = try EntrypointRun(arguments: [], environment: Self.imageEnvironment, sendTerm: true)
        #expect(run.recordedPID == run.pid)
        #expect(run.receivedTerm)
        #expect(run.status == 3) // what the stand-in exits with after SIGTERM
    }
}

/// One run of the entrypoint with a stand-in server; `argv` is nil when the stand-in did not start.
struct EntrypointRun {
    var status: Int32 = -1
    var output = ""
    var argv: [String]?
    var pid: Int32 = 0
    var recordedPID: Int32?
    var receivedTerm = false

    /// Writes an executable through a short-lived child shell, never through a descriptor of this process. Tests run
    /// in parallel and fork children of their own: a write descriptor of ours open at the moment of one of those forks
    /// stays open in that child until it execs, and `exec` of a file open for writing anywhere fails with ETXTBSY
    /// ("Text file busy", exit 126; CI saw it once). The child shell's descriptor dies with it.
    static func writeExecutable(_ contents: String, to path: String) throws {
        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: "/bin/sh")
        writer.arguments = ["-c", "printf '%s\\n' \"$1\" > \"$2\" && chmod 755 \"$2\"", "sh", contents, path]
        try writer.run()
        writer.waitUntilExit()
        guard writer.terminationStatus == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
    }

    init(
        arguments: [String], environment: [String: String], binary: String? = nil, sendTerm: Bool = false,
        unprivileged: Bool = false
    ) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("entrypoint-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: directory, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o777])
        defer { try? FileManager.default.removeItem(at: directory) }
        let record = directory.appendingPathComponent("argv")
        let stub = directory.appendingPathComponent("embed-server")
        // Records PID and argv (one per line) once its TERM handler is set, then waits to be stopped.
        let script = """
            #!/bin/sh
            trap 'echo TERM >> "$STUB_RECORD"; exit 3' TERM
            { echo "$$"; for a in "$@"; do echo "$a"; done; } > "$STUB_RECORD.tmp" && mv "$STUB_RECORD.tmp" "$STUB_RECORD"
            [ -n "${STUB_WAIT:-}" ] || exit 0
            while :; do sleep 0.02; done
            """
        try EntrypointRun.writeExecutable(script, to: stub.path)

        let process = Process()
        if unprivileged && getuid() == 0 {
            // As root (CI), drop to nobody: the entrypoint must see a non-root uid.
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments =
                ["--reuid=65534", "--regid=65534", "--clear-groups", "/bin/sh", EntrypointTests.entrypoint] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = [EntrypointTests.entrypoint] + arguments
        }
        var environment = environment
        environment["EMBED_SERVER_BIN"] = binary ?? stub.path
        environment["STUB_RECORD"] = record.path
        if sendTerm { environment["STUB_WAIT"] = "1" }
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        pid = process.processIdentifier
        if sendTerm {
            #expect(
                waitUntil(timeoutSeconds: 10) { FileManager.default.fileExists(atPath: record.path) },
                "the stand-in server never recorded its start")
            kill(pid, SIGTERM)
        }
        output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        status = process.terminationStatus
        if let text = try? String(contentsOf: record, encoding: .utf8) {
            var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if lines.last == "" { lines.removeLast() }
            if lines.last == "TERM" { receivedTerm = true; lines.removeLast() }
            recordedPID = lines.first.flatMap { Int32($0) }
            argv = Array(lines.dropFirst())
        }
    }
}
