import Foundation

/// Why the settings cannot be used.
struct SettingsError: Error, CustomStringConvertible, Equatable {
    var description: String
}

/// Where a subcommand takes each setting from, keyed by TEI's environment variable names (`MODEL_ID`, `PORT`, …):
/// a command-line flag wins over the environment, which wins over the config file, which wins over the default.
struct SettingSources {
    var flags: [String: String] = [:]
    var environment: [String: String] = [:]
    var file: [String: String] = [:]

    /// The winning raw text for `setting`, and where it came from (for error messages).
    func value(_ setting: SettingInfo) -> (text: String, origin: String)? {
        let key = setting.key
        if let text = flags[key] { return (text, "--\(setting.flag)") }
        // An empty variable counts as unset, as in a shell's `${VAR:-default}`.
        if let text = environment[key], !text.isEmpty { return (text, "environment variable \(key)") }
        if let text = file[key] { return (text, "\(key) in the config file") }
        return nil
    }

    /// The setting's value from the winning source, read and checked, else `subcommand`'s default.
    func resolve<Value>(_ setting: Setting<Value>, for subcommand: Subcommand = .serve) throws(SettingsError) -> Value {
        guard let (text, origin) = value(setting.info) else { return setting.defaultValue(for: subcommand) }
        return try setting.read(text, origin: origin)
    }

    /// The setting a config-file key names: its environment variable or its flag, in either spelling
    /// (`MAX_BATCH_TOKENS`, `max-batch-tokens`, `compute-threads`).
    static func setting(forConfigKey written: String) -> SettingInfo? {
        let spelled = written.uppercased().replacingOccurrences(of: "-", with: "_")
        return Settings.all.first { $0.inConfigFile && ($0.key == spelled || $0.valueName == spelled) }
    }

    /// Reads a config file: `KEY=VALUE` lines, keys as TEI's environment variables or flag names
    /// (`PORT=8080`, `max-batch-tokens = 8192`), `#` comments, values optionally in double or single quotes.
    static func parseConfigFile(_ text: String, path: String) throws(SettingsError) -> [String: String] {
        var values: [String: String] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw SettingsError(description: "\(path):\(index + 1): expected KEY=VALUE, found `\(line)`")
            }
            let written = line[..<equals].trimmingCharacters(in: .whitespaces)
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            guard let setting = setting(forConfigKey: written) else {
                let key = written.uppercased().replacingOccurrences(of: "-", with: "_")
                throw SettingsError(description: "\(path):\(index + 1): unknown setting `\(key)`")
            }
            values[setting.key] = value
        }
        return values
    }
}
