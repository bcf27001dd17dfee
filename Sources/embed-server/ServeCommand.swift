import ArgumentParser
import Dispatch
import EmbeddingAPI
import EmbeddingModel
import Foundation
import HTTPServer
import Kernels
import ModelHub
import Tokenizers

/// `embed-server serve`: TEI's router flags (each also read from TEI's environment variable, then `--config`).
struct ServeCommand: ParsableCommand, SettingsSubcommand {
    static let subcommand = Subcommand.serve

    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve EmbeddingGemma over HTTP with TEI's and OpenAI's embeddings API.",
        discussion: """
            Every option can also be set by the environment variable in brackets, or by that name in a config file \
            (--config, see config/embed-server.conf). A flag wins over the environment, which wins over the file.
            """)

    @Option(Settings.config, .serve) var config: String?
    @OptionGroup var model: ModelOptions<ServeCommand>
    @OptionGroup var serveModel: ServeModelOptions
    @OptionGroup var compute: ComputeOptions<ServeCommand>
    @OptionGroup var limits: ServeLimitOptions
    @OptionGroup var hub: HubOptions
    @OptionGroup var network: NetworkOptions
    @OptionGroup var logging: LoggingOptions

    /// The flags given on the command line, keyed by their environment variable names.
    var flagValues: [String: String] {
        var flags = FlagValues()
        model.record(into: &flags)
        serveModel.record(into: &flags)
        compute.record(into: &flags)
        limits.record(into: &flags)
        hub.record(into: &flags)
        network.record(into: &flags)
        logging.record(into: &flags)
        return flags.values
    }

    /// TEI accepts a bare `--auto-truncate` as well as `--auto-truncate false`; this makes the bare form explicit.
    static func normalizeArguments(_ arguments: [String]) -> [String] {
        var result: [String] = []
        for (index, argument) in arguments.enumerated() {
            result.append(argument)
            guard argument == "--auto-truncate" else { continue }
            let next = index + 1 < arguments.count ? arguments[index + 1] : ""
            if Bool(settingText: next) == nil { result.append("true") }
        }
        return result
    }

    func run() throws {
        var sources = SettingSources(flags: flagValues, environment: ProcessInfo.processInfo.environment)
        if let path = config ?? sources.value(Settings.config.info)?.text {
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw ValidationError("cannot read config file \(path): \(error.localizedDescription)")
            }
            sources.file = try SettingSources.parseConfigFile(text, path: path)
        }
        // The log is set up before the other settings, so that their errors are logged as asked.
        var log = ServerLog(json: (try? sources.resolve(Settings.jsonOutput)) ?? false)
        var warnings: [String] = []
        log.minimumLevel = ServeSettings.logLevel(sources) { warnings.append($0) }
        for warning in warnings { log.warning(warning) }
        let settings: ServeSettings
        do {
            settings = try ServeSettings.resolve(sources) { log.warning($0) }
        } catch {
            log.error(error.description)
            throw ExitCode.failure
        }
        let done = DispatchSemaphore(value: 0)
        let outcome = OutcomeBox()
        Task {
            do {
                try await ServerRunner(settings: settings, log: log).run()
            } catch {
                log.error("\(error)")
                outcome.failed = true
            }
            done.signal()
        }
        done.wait()
        if outcome.failed { throw ExitCode.failure }
    }
}

/// Carries the server task's outcome back to the blocked main thread.
private final class OutcomeBox: @unchecked Sendable {
    // Written by the task before it signals the semaphore, read by the main thread after the wait.
    var failed = false
}
