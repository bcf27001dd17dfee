import Foundation
import Testing

@testable import embed_server

@Suite("serve settings: flags, environment, config file, defaults")
struct ServeSettingsTests {
    @Test("with only a model id every setting takes TEI's default")
    func defaults() throws {
        let settings = try ServeSettings.resolve(SettingSources(flags: ["MODEL_ID": "m"]))
        #expect(settings.modelID == "m")
        #expect(settings.port == 3000)
        #expect(settings.hostname == "0.0.0.0")
        #expect(settings.maxConcurrentRequests == 512)
        #expect(settings.maxBatchTokens == 16384)
        #expect(settings.maxBatchRequests == nil)
        #expect(settings.maxClientBatchSize == 32)
        #expect(settings.autoTruncate)
        #expect(settings.payloadLimitBytes == 2_000_000)
        #expect(settings.requestBodyTimeoutSeconds == 60)
        #expect(settings.maxBufferedBytes == nil)
        #expect(!settings.jsonOutput)
        #expect(settings.corsAllowOrigins.isEmpty)
        #expect(settings.tokenizationWorkers >= 1)
        #expect(settings.computeThreads == ProcessInfo.processInfo.activeProcessorCount)
    }

    @Test("a flag beats the environment, which beats the config file, which beats the default")
    func precedence() throws {
        let sources = SettingSources(
            flags: ["MODEL_ID": "flag-model", "PORT": "1111"],
            environment: ["PORT": "2222", "MAX_BATCH_TOKENS": "4096", "MODEL_ID": "env-model"],
            file: ["PORT": "3333", "MAX_BATCH_TOKENS": "8192", "MAX_CLIENT_BATCH_SIZE": "8", "MODEL_ID": "file-model"])
        let settings = try ServeSettings.resolve(sources)
        #expect(settings.modelID == "flag-model")
        #expect(settings.port == 1111)
        #expect(settings.maxBatchTokens == 4096)
        #expect(settings.maxClientBatchSize == 8)
        #expect(settings.maxConcurrentRequests == 512)
    }

    @Test("--compute-threads beats EMBED_THREADS, which beats the config file, which beats all available processors")
    func computeThreadsPrecedence() throws {
        let file = try SettingSources.parseConfigFile("compute-threads = 3", path: "test.conf")
        #expect(file == ["EMBED_THREADS": "3"])
        #expect(try SettingSources.parseConfigFile("EMBED_THREADS=5", path: "test.conf") == ["EMBED_THREADS": "5"])
        let all = SettingSources(
            flags: ["MODEL_ID": "m", "EMBED_THREADS": "1"], environment: ["EMBED_THREADS": "2"], file: file)
        #expect(try ServeSettings.resolve(all).computeThreads == 1)
        var noFlag = all
        noFlag.flags["EMBED_THREADS"] = nil
        #expect(try ServeSettings.resolve(noFlag).computeThreads == 2)
        var fileOnly = noFlag
        fileOnly.environment = [:]
        #expect(try ServeSettings.resolve(fileOnly).computeThreads == 3)
        fileOnly.file = [:]
        #expect(try ServeSettings.resolve(fileOnly).computeThreads == ProcessInfo.processInfo.activeProcessorCount)
    }

    @Test("--compute-threads is parsed from the command line and refuses zero, naming the flag")
    func computeThreadsFlag() throws {
        let serve = try #require(
            try EmbedServer.parseAsRoot(["--model-id", "m", "--compute-threads", "4"]) as? ServeCommand)
        #expect(serve.flagValues == ["MODEL_ID": "m", "EMBED_THREADS": "4"])
        #expect(try ServeSettings.resolve(SettingSources(flags: serve.flagValues)).computeThreads == 4)
        #expect(throws: SettingsError(description: "--compute-threads: `0` is not an integer ≥ 1")) {
            try ServeSettings.resolve(SettingSources(flags: ["MODEL_ID": "m", "EMBED_THREADS": "0"]))
        }
        #expect(throws: SettingsError(description: "environment variable EMBED_THREADS: `all` is not an integer ≥ 1")) {
            try ServeSettings.resolve(SettingSources(flags: ["MODEL_ID": "m"], environment: ["EMBED_THREADS": "all"]))
        }
    }

    @Test("the config file reads KEY=VALUE lines with comments, quotes and flag-style keys")
    func configFile() throws {
        let text = """
            # a comment
            MODEL_ID = "google/embeddinggemma-300m"
            max-batch-tokens=2048

            AUTO_TRUNCATE='false'
            """
        let values = try SettingSources.parseConfigFile(text, path: "test.conf")
        #expect(
            values == ["MODEL_ID": "google/embeddinggemma-300m", "MAX_BATCH_TOKENS": "2048", "AUTO_TRUNCATE": "false"])
        let settings = try ServeSettings.resolve(SettingSources(file: values))
        #expect(settings.autoTruncate == false)
        #expect(settings.maxBatchTokens == 2048)
    }

    @Test("the documented example config file parses, and every key it shows is known")
    func shippedConfigFile() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../config/embed-server.conf")
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(try SettingSources.parseConfigFile(text, path: url.path).isEmpty, "every line is commented out")
        let shown = text.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("# "), let equals = line.firstIndex(of: "=") else { return nil }
            let key = line.dropFirst(2)[..<equals]
            return key.allSatisfy { $0.isUppercase || $0 == "_" } ? String(key) : nil
        }
        #expect(shown.count > 20)
        for key in shown {
            #expect(ServeSettings.knownKeys.contains(key), "\(key)")
        }
    }

    @Test("--dtype takes float32 (the default) or bfloat16 and refuses float16")
    func dtype() throws {
        #expect(try ServeSettings.resolve(SettingSources(flags: ["MODEL_ID": "m"])).dtype == .float32)
        #expect(
            try ServeSettings.resolve(SettingSources(flags: ["MODEL_ID": "m", "DTYPE": "bfloat16"])).dtype == .bfloat16)
        #expect(
            try ServeSettings.resolve(SettingSources(flags: ["MODEL_ID": "m"], environment: ["DTYPE": "float32"])).dtype
                == .float32)
        #expect(
            throws: SettingsError(
                description:
                    "--dtype float16: Could not start backend: Gemma3 is only supported in float32 or bfloat16 precision"
            )
        ) {
            try ServeSettings.resolve(SettingSources(flags: ["MODEL_ID": "m", "DTYPE": "float16"]))
        }
    }

    @Test("mistakes are reported with where the value came from")
    func errors() {
        #expect(throws: SettingsError(description: "--port: `abc` is not an integer ≥ 0")) {
            try ServeSettings.resolve(SettingSources(flags: ["MODEL_ID": "m", "PORT": "abc"]))
        }
        #expect(throws: SettingsError(description: "environment variable AUTO_TRUNCATE: `maybe` is not true or false"))
        {
            try ServeSettings.resolve(SettingSources(flags: ["MODEL_ID": "m"], environment: ["AUTO_TRUNCATE": "maybe"]))
        }
        #expect(throws: SettingsError.self) { try SettingSources.parseConfigFile("NOT_A_SETTING=1", path: "x") }
        #expect(throws: SettingsError.self) { try SettingSources.parseConfigFile("just words", path: "x") }
        #expect(throws: SettingsError.self) { try ServeSettings.resolve(SettingSources()) }
        #expect(throws: SettingsError.self) {
            try ServeSettings.resolve(SettingSources(flags: ["MODEL_ID": "m", "DTYPE": "float16"]))
        }
        #expect(throws: SettingsError.self) {
            try ServeSettings.resolve(
                SettingSources(flags: ["MODEL_ID": "m", "DEFAULT_PROMPT": "a", "DEFAULT_PROMPT_NAME": "query"]))
        }
    }

    @Test("a HOSTNAME that is not an IP address (Docker's container name) falls back to 0.0.0.0 with a warning")
    func dockerHostname() throws {
        var warnings: [String] = []
        let settings = try ServeSettings.resolve(
            SettingSources(flags: ["MODEL_ID": "m"], environment: ["HOSTNAME": "3f2a9c1d"])
        ) { warnings.append($0) }
        #expect(settings.hostname == "0.0.0.0")
        #expect(warnings.count == 1)
        #expect(
            try ServeSettings.resolve(SettingSources(flags: ["MODEL_ID": "m", "HOSTNAME": "::1"])).hostname == "::1")
    }

    @Test("CORS origins are a comma-separated list; TEI-only settings are accepted and reported as ignored")
    func listsAndIgnored() throws {
        let settings = try ServeSettings.resolve(
            SettingSources(flags: [
                "MODEL_ID": "m", "CORS_ALLOW_ORIGIN": "https://a.example, https://b.example", "UDS_PATH": "/tmp/x",
            ]))
        #expect(settings.corsAllowOrigins == ["https://a.example", "https://b.example"])
        #expect(settings.ignored.count == 1)
    }

    @Test(
        "--request-body-timeout and --max-buffered-bytes come from flags, environment or file; the budget holds a largest body"
    )
    func bodyLimits() throws {
        let serve = try #require(
            try EmbedServer.parseAsRoot([
                "--model-id", "m", "--request-body-timeout", "5", "--max-buffered-bytes", "4000000",
            ])
                as? ServeCommand)
        #expect(serve.flagValues == ["MODEL_ID": "m", "REQUEST_BODY_TIMEOUT": "5", "MAX_BUFFERED_BYTES": "4000000"])
        let flagged = try ServeSettings.resolve(SettingSources(flags: serve.flagValues))
        #expect(flagged.requestBodyTimeoutSeconds == 5 && flagged.maxBufferedBytes == 4_000_000)
        let file = try SettingSources.parseConfigFile(
            "request-body-timeout = 7\nMAX_BUFFERED_BYTES=3000", path: "t.conf")
        let fromFile = try ServeSettings.resolve(
            SettingSources(flags: ["MODEL_ID": "m"], environment: ["PAYLOAD_LIMIT": "1000"], file: file))
        #expect(fromFile.requestBodyTimeoutSeconds == 7 && fromFile.maxBufferedBytes == 3000)
        #expect(
            throws: SettingsError(
                description: "environment variable MAX_BUFFERED_BYTES: `1000` is not an integer ≥ 2000000")
        ) {
            try ServeSettings.resolve(
                SettingSources(flags: ["MODEL_ID": "m"], environment: ["MAX_BUFFERED_BYTES": "1000"]))
        }
        #expect(throws: SettingsError(description: "--request-body-timeout: `0` is not an integer ≥ 1")) {
            try ServeSettings.resolve(SettingSources(flags: ["MODEL_ID": "m", "REQUEST_BODY_TIMEOUT": "0"]))
        }
    }

    @Test("a bare --auto-truncate means true; an explicit value is kept")
    func autoTruncateArgument() {
        #expect(
            ServeCommand.normalizeArguments(["--auto-truncate", "--port", "1"]) == [
                "--auto-truncate", "true", "--port", "1",
            ])
        #expect(ServeCommand.normalizeArguments(["--auto-truncate", "false"]) == ["--auto-truncate", "false"])
        #expect(ServeCommand.normalizeArguments(["--auto-truncate"]) == ["--auto-truncate", "true"])
    }

    @Test("serve is the default subcommand and its flags carry TEI's names")
    func commandLine() throws {
        let command = try EmbedServer.parseAsRoot([
            "--model-id", "m", "--max-batch-tokens", "100", "--json-output", "-p", "8080", "--cors-allow-origin", "a",
        ])
        let serve = try #require(command as? ServeCommand)
        #expect(
            serve.flagValues == [
                "MODEL_ID": "m", "MAX_BATCH_TOKENS": "100", "JSON_OUTPUT": "true", "PORT": "8080",
                "CORS_ALLOW_ORIGIN": "a",
            ])
    }
}

@Suite("serve settings: TLS")
struct ServeTLSSettingsTests {
    @Test("a certificate and a key together turn on HTTPS; either alone is an error")
    func certificateAndKeyGoTogether() throws {
        let both = try ServeSettings.resolve(
            SettingSources(
                flags: ["MODEL_ID": "m", "TLS_CERTIFICATE": "cert.pem"], environment: ["TLS_KEY": "key.pem"]))
        #expect(both.tls?.certificatePath == "cert.pem")
        #expect(both.tls?.privateKeyPath == "key.pem")
        #expect(try ServeSettings.resolve(SettingSources(flags: ["MODEL_ID": "m"])).tls == nil)
        #expect(throws: SettingsError.self) {
            try ServeSettings.resolve(SettingSources(flags: ["MODEL_ID": "m", "TLS_KEY": "key.pem"]))
        }
    }
}
