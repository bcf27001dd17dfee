import ArgumentParser
import Foundation
import Kernels

/// A type a setting's value can have: read from the text of a flag, an environment variable or a config-file line,
/// and written back for the docs and the config file.
protocol SettingValue: Sendable {
    init?(settingText: String)
    var settingText: String { get }
    /// What a rejected text is not, for the error (`true or false`).
    static var expectation: String { get }
}

extension Int: SettingValue {
    init?(settingText: String) { self.init(settingText.trimmingCharacters(in: .whitespaces)) }
    var settingText: String { String(self) }
    static var expectation: String { "an integer" }
}

extension String: SettingValue {
    init?(settingText: String) { self = settingText }
    var settingText: String { self }
    static var expectation: String { "text" }
}

extension Bool: SettingValue {
    /// TEI's spellings, any case: true, 1, yes, on; false, 0, no, off.
    init?(settingText: String) {
        switch settingText.lowercased() {
        case "true", "1", "yes", "on": self = true
        case "false", "0", "no", "off": self = false
        default: return nil
        }
    }
    var settingText: String { self ? "true" : "false" }
    static var expectation: String { "true or false" }
}

/// A comma-separated list (`CORS_ALLOW_ORIGIN`); blanks around items and empty items are dropped.
extension [String]: SettingValue {
    init?(settingText: String) {
        self = settingText.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
    var settingText: String { joined(separator: ",") }
    static var expectation: String { "a comma-separated list" }
}

extension Optional: SettingValue where Wrapped: SettingValue {
    init?(settingText: String) {
        guard let value = Wrapped(settingText: settingText) else { return nil }
        self = value
    }
    var settingText: String { map(\.settingText) ?? "" }
    static var expectation: String { Wrapped.expectation }
}

extension SettingValue where Self: RawRepresentable, RawValue == String {
    init?(settingText: String) { self.init(rawValue: settingText) }
    var settingText: String { rawValue }
}

extension SettingValue where Self: RawRepresentable, RawValue == String, Self: CaseIterable {
    static var expectation: String { "one of " + allCases.map(\.rawValue).joined(separator: ", ") }
}

// Kernels does not depend on ArgumentParser; the raw values (float32, bfloat16) are the option's spellings.
extension WeightPrecision: SettingValue, ExpressibleByArgument {}

/// TEI's `--pooling` choices. The model's own pooling (1_Pooling/config.json) is the only one served: serve refuses
/// another, as TEI's router refuses a pooling the model does not support.
enum Pooling: String, SettingValue, ExpressibleByArgument {
    case cls, mean, splade
    case lastToken = "last-token"

    /// The name /info gives this pooling (`last_token`).
    var infoName: String { self == .lastToken ? "last_token" : rawValue }

    static var expectation: String { "cls, mean, splade or last-token" }
}

extension ServerLog.Level: SettingValue, ExpressibleByArgument {
    init?(settingText: String) { self.init(environmentValue: settingText) }
    init?(argument: String) { self.init(environmentValue: argument) }
    var settingText: String { name.lowercased() }
    static var expectation: String { "trace, debug, info, warn or error" }
}

/// A true-or-false option value in the spellings the environment and the config file take (`yes`, `on`, `1`, …);
/// ArgumentParser's own `Bool` takes only `true` and `false`.
struct BooleanArgument: ExpressibleByArgument, Sendable {
    let value: Bool

    init?(argument: String) {
        guard let value = Bool(settingText: argument) else { return nil }
        self.value = value
    }
}
