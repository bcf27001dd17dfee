import Batching
import EmbeddingAPI
import Foundation
import HTTPServer
import Kernels
import Testing

@testable import embed_server

/// `embed-server serve ARGUMENTS…` parsed as main.swift parses it.
private func serve(_ arguments: [String]) throws -> ServeCommand {
    let command = try EmbedServer.parseAsRoot(ServeCommand.normalizeArguments(["serve"] + arguments))
    return try #require(command as? ServeCommand)
}

/// `embed-server embed ARGUMENTS…`, its shared settings resolved.
private func embed(_ arguments: [String]) throws -> EmbedCommand.Resolved {
    let command = try EmbedServer.parseAsRoot(["embed"] + arguments)
    return try #require(command as? EmbedCommand).resolved()
}

@Suite("settings: flags, aliases, precedence and defaults from the declarations")
struct SettingsParsingTests {
    @Test("every serve flag, hidden ones too, lands under its setting's key")
    func everyFlagIsRecorded() throws {
        // The first text each option's type takes: an integer, a precision, a pooling, a level, a truth value.
        let candidates = ["7", "bfloat16", "mean", "debug", "yes"]
        for setting in Settings.all where setting.key != Settings.config.info.key {
            let flag = "--\(setting.flag)"
            if setting.isFlag {
                #expect(try serve([flag]).flagValues == [setting.key: "true"], "\(flag)")
                continue
            }
            let parsed = candidates.lazy.compactMap { text in (try? serve([flag, text])).map { (text, $0) } }.first
            let (text, command) = try #require(parsed, "\(flag) takes none of \(candidates)")
            #expect(command.flagValues == [setting.key: text == "yes" ? "true" : text], "\(flag)")
        }
    }

    @Test("--config is read from the flag, else from EMBED_SERVER_CONFIG")
    func configPath() throws {
        #expect(try serve(["--config", "a.conf"]).config == "a.conf")
        let sources = SettingSources(flags: [:], environment: ["EMBED_SERVER_CONFIG": "b.conf"])
        #expect(try sources.resolve(Settings.config) == "b.conf")
        #expect(throws: SettingsError.self) { try SettingSources.parseConfigFile("EMBED_SERVER_CONFIG=c", path: "x") }
    }

    @Test("embed's former --threads and --batch-tokens are hidden aliases of --compute-threads and --max-batch-tokens")
    func embedAliases() throws {
        let old = try embed(["--model-id", "m", "--threads", "3", "--batch-tokens", "100"])
        let new = try embed(["--model-id", "m", "--compute-threads", "3", "--max-batch-tokens", "100"])
        #expect(old.computeThreads == 3 && old.maxBatchTokens == 100)
        #expect(new.computeThreads == 3 && new.maxBatchTokens == 100)
        #expect(try embed(["--model-id", "m", "--compute-threads", "2", "--threads", "5"]).computeThreads == 2)
        #expect(throws: (any Error).self) { try embed(["--model-id", "m", "--threads", "0"]) }
    }

    @Test("serve takes the same aliases, recorded under the same keys")
    func serveAliases() throws {
        #expect(try serve(["--threads", "3"]).flagValues == ["EMBED_THREADS": "3"])
        #expect(try serve(["--batch-tokens", "100"]).flagValues == ["MAX_BATCH_TOKENS": "100"])
        #expect(try serve(["--hf-api-token", "t"]).flagValues == ["HF_API_TOKEN": "t"])
    }

    @Test("embed's defaults: float32, 8192 batch tokens, every core; no model is an error")
    func embedDefaults() throws {
        let settings = try embed(["--model-id", "m"])
        #expect(settings.dtype == .float32 && settings.maxBatchTokens == 8192)
        #expect(settings.computeThreads == ComputePool.availableProcessorCount)
        #expect(try embed(["--model-id", "m", "--dtype", "bfloat16"]).dtype == .bfloat16)
        #expect(throws: (any Error).self) { try embed([]) }
    }

    @Test("typed options refuse values their type lacks on the command line")
    func typedOptions() throws {
        #expect(throws: (any Error).self) { try serve(["--dtype", "float16"]) }
        #expect(throws: (any Error).self) { try serve(["--log-level", "verbose"]) }
        #expect(throws: (any Error).self) { try serve(["--pooling", "max"]) }
        #expect(try serve(["--auto-truncate", "off"]).flagValues == ["AUTO_TRUNCATE": "false"])
        #expect(try serve(["--auto-truncate"]).flagValues == ["AUTO_TRUNCATE": "true"])
        #expect(try serve(["--log-level", "WARN"]).flagValues == ["LOG_LEVEL": "warn"])
        // TEI's poolings parse; whether the model has that pooling is checked once it is loaded.
        let cls = try serve(["--model-id", "m", "--pooling", "cls"])
        #expect(try ServeSettings.resolve(SettingSources(flags: cls.flagValues)).pooling == .cls)
    }

    @Test("for every setting a flag beats the environment, which beats the config file")
    func precedenceForEverySetting() {
        for setting in Settings.all {
            let all = SettingSources(
                flags: [setting.key: "flag"], environment: [setting.key: "env"], file: [setting.key: "file"])
            #expect(all.value(setting)?.text == "flag" && all.value(setting)?.origin == "--\(setting.flag)")
            let noFlag = SettingSources(environment: [setting.key: "env"], file: [setting.key: "file"])
            #expect(noFlag.value(setting)?.origin == "environment variable \(setting.key)")
            let emptyVariable = SettingSources(environment: [setting.key: ""], file: [setting.key: "file"])
            #expect(emptyVariable.value(setting)?.origin == "\(setting.key) in the config file")
            #expect(SettingSources().value(setting) == nil)
        }
    }

    @Test("the log level: flag, environment, file, default; an unknown one in the environment is a warning")
    func logLevel() throws {
        let flagged = try serve(["--model-id", "m", "--log-level", "error"])
        let sources = SettingSources(
            flags: flagged.flagValues, environment: ["LOG_LEVEL": "debug"], file: ["LOG_LEVEL": "warn"])
        #expect(try ServeSettings.resolve(sources).logLevel == .error)
        #expect(ServeSettings.logLevel(SettingSources(environment: ["LOG_LEVEL": "TRACE"])) == .debug)
        #expect(ServeSettings.logLevel(SettingSources(file: ["LOG_LEVEL": "warn"])) == .warning)
        #expect(ServeSettings.logLevel(SettingSources()) == .info)
        var warnings: [String] = []
        #expect(
            ServeSettings.logLevel(SettingSources(environment: ["LOG_LEVEL": "loud"])) { warnings.append($0) } == .info)
        #expect(warnings == ["LOG_LEVEL `loud` is not trace, debug, info, warn or error; logging at info"])
    }

    @Test("HF_TOKEN from any source beats HF_API_TOKEN from any source, as before")
    func formerTokenName() throws {
        let sources = SettingSources(
            flags: ["MODEL_ID": "m"], environment: ["HF_API_TOKEN": "old"], file: ["HF_TOKEN": "new"])
        #expect(try ServeSettings.resolve(sources).hfToken == "new")
        #expect(
            try ServeSettings.resolve(SettingSources(flags: ["MODEL_ID": "m", "HF_API_TOKEN": "old"])).hfToken == "old")
    }

    @Test("a config-file key is a setting's environment variable or flag name, in either spelling")
    func configKeys() throws {
        for setting in Settings.all where setting.inConfigFile {
            for written in [setting.key, setting.flag, setting.key.lowercased()] {
                #expect(try SettingSources.parseConfigFile("\(written)=1", path: "t") == [setting.key: "1"])
            }
        }
        #expect(try SettingSources.parseConfigFile("compute_threads=2", path: "t") == ["EMBED_THREADS": "2"])
    }

    @Test("the other modules' defaults are the declared ones")
    func otherModulesDefaults() {
        let api = APIConfiguration()
        #expect(api.maxConcurrentRequests == Settings.maxConcurrentRequests.defaultValue())
        #expect(api.maxBatchTokens == Settings.maxBatchTokens.defaultValue())
        #expect(api.maxBatchRequests == Settings.maxBatchRequests.defaultValue())
        #expect(api.maxClientBatchSize == Settings.maxClientBatchSize.defaultValue())
        #expect(api.autoTruncate == Settings.autoTruncate.defaultValue())
        #expect(api.defaultPromptName == nil && api.defaultPrompt == nil && api.apiKey == nil)
        let batcher = BatcherConfiguration()
        #expect(batcher.maxBatchTokens == Settings.maxBatchTokens.defaultValue())
        #expect(batcher.maxBatchRequests == Settings.maxBatchRequests.defaultValue())
        #expect(batcher.maxConcurrentRequests == Settings.maxConcurrentRequests.defaultValue())
        let server = ServerConfiguration()
        #expect(server.hostname == Settings.hostname.defaultValue())
        #expect(server.port == Settings.port.defaultValue())
        #expect(server.payloadLimitBytes == Settings.payloadLimit.defaultValue())
        #expect(server.bodyDeadlineSeconds == Double(Settings.requestBodyTimeout.defaultValue()))
        #expect(server.maxBufferedBytes == Settings.maxBufferedBytes.defaultValue())
        #expect(HTTPParserLimits().maxBodyBytes == Settings.payloadLimit.defaultValue())
    }

    @Test("ServeSettings' own defaults are the declared ones")
    func serveSettingsDefaults() throws {
        #expect(ServeSettings(modelID: "m") == (try ServeSettings.resolve(SettingSources(flags: ["MODEL_ID": "m"]))))
    }
}
