import ArgumentParser
import Kernels

/// A subcommand whose options are declared in `Settings`; it picks the help and defaults written for it.
protocol SettingsSubcommand {
    static var subcommand: Subcommand { get }
}

/// The model and its precision, as serve and embed take them.
struct ModelOptions<Command: SettingsSubcommand>: ParsableArguments {
    @Option(Settings.modelID, Command.subcommand) var modelID: String?
    @Option(Settings.dtype, Command.subcommand) var dtype: WeightPrecision?

    func record(into flags: inout FlagValues) {
        flags.record(Settings.modelID, modelID)
        flags.record(Settings.dtype, dtype)
    }
}

/// Batch size and compute threads, as serve and embed take them; embed's former `--batch-tokens` and `--threads`
/// stay as hidden aliases.
struct ComputeOptions<Command: SettingsSubcommand>: ParsableArguments {
    @Option(Settings.maxBatchTokens, Command.subcommand) var maxBatchTokens: Int?
    @Option(aliasesOf: Settings.maxBatchTokens) var batchTokens: Int?
    @Option(Settings.computeThreads, Command.subcommand) var computeThreads: Int?
    @Option(aliasesOf: Settings.computeThreads) var threads: Int?

    func record(into flags: inout FlagValues) {
        flags.record(Settings.maxBatchTokens, maxBatchTokens, alias: batchTokens)
        flags.record(Settings.computeThreads, computeThreads, alias: threads)
    }
}
