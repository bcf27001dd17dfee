import ArgumentParser

// The option groups declare `@Option(Settings.port, .serve) var port: Int?`: the flag's names and help come from the
// setting, and the property's type must be the setting's value type.

extension SettingInfo {
    /// `--flag` (and `-p` where there is a short name).
    var names: NameSpecification {
        NameSpecification([.customLong(flag)] + (short.map { [.customShort($0)] } ?? []))
    }

    /// The earlier spellings, for a hidden option.
    var aliasNames: NameSpecification { NameSpecification(aliases.map { .customLong($0) }) }

    func argumentHelp(for subcommand: Subcommand) -> ArgumentHelp {
        ArgumentHelp(
            helpText(for: subcommand), valueName: isFlag ? nil : valueName, visibility: isHidden ? .hidden : .default)
    }
}

extension Option {
    /// An option for `setting`, nil unless given (so the environment and the config file can supply it).
    init<T: ExpressibleByArgument>(_ setting: Setting<T>, _ subcommand: Subcommand) where Value == T? {
        self.init(name: setting.info.names, help: setting.info.argumentHelp(for: subcommand))
    }

    /// An option for an optional setting, nil unless given.
    init<T: ExpressibleByArgument>(_ setting: Setting<T?>, _ subcommand: Subcommand) where Value == T? {
        self.init(name: setting.info.names, help: setting.info.argumentHelp(for: subcommand))
    }

    /// A true-or-false option in every spelling the environment takes.
    init(_ setting: Setting<Bool>, _ subcommand: Subcommand) where Value == BooleanArgument? {
        self.init(name: setting.info.names, help: setting.info.argumentHelp(for: subcommand))
    }

    /// A repeatable option for a list setting.
    init(wrappedValue: [String], _ setting: Setting<[String]>, _ subcommand: Subcommand) where Value == [String] {
        self.init(
            wrappedValue: wrappedValue, name: setting.info.names, help: setting.info.argumentHelp(for: subcommand))
    }

    /// The setting's earlier flag spellings, accepted and not shown by --help.
    init<T: ExpressibleByArgument>(aliasesOf setting: Setting<T>) where Value == T? {
        self.init(name: setting.info.aliasNames, help: .hidden)
    }
}

extension Flag where Value == Bool {
    /// A presence flag for `setting`.
    init(wrappedValue: Bool, _ setting: Setting<Bool>, _ subcommand: Subcommand) {
        self.init(
            wrappedValue: wrappedValue, name: setting.info.names, help: setting.info.argumentHelp(for: subcommand))
    }
}

/// The flags given on the command line, keyed by their settings' keys: `SettingSources.flags`.
struct FlagValues {
    private(set) var values: [String: String] = [:]

    /// Records `value` for `setting` if the flag was given.
    mutating func record<T: SettingValue>(_ setting: Setting<T>, _ value: T?) {
        if let value { values[setting.info.key] = value.settingText }
    }

    /// Records `value` for an optional setting if the flag was given.
    mutating func record<T: SettingValue>(_ setting: Setting<T?>, _ value: T?) {
        if let value { values[setting.info.key] = value.settingText }
    }

    /// Records a presence flag if it was given.
    mutating func record(flag setting: Setting<Bool>, _ given: Bool) {
        if given { values[setting.info.key] = true.settingText }
    }

    /// Records a repeatable option if it was given, its values comma-joined.
    mutating func record(_ setting: Setting<[String]>, _ values: [String]) {
        if !values.isEmpty { self.values[setting.info.key] = values.settingText }
    }

    /// Records the first of a flag and its hidden alias that was given.
    mutating func record<T: SettingValue>(_ setting: Setting<T>, _ value: T?, alias: T?) {
        record(setting, value ?? alias)
    }
}
