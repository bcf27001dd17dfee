/// A subcommand that takes settings; a setting's help and default can differ between them.
enum Subcommand: String, Sendable, CaseIterable {
    case serve, embed
}

/// The group a setting is listed under in docs/configuration.md and config/embed-server.conf.
enum SettingSection: String, Sendable, CaseIterable {
    case configFile = "Config file"
    case model = "Model"
    case batching = "Batching and limits"
    case hub = "Hugging Face Hub"
    case network = "Network"
    case logging = "Logging"
}

/// A setting's default: the value used when no source sets it, and how --help and the docs write it.
struct SettingDefault<Value: SettingValue>: Sendable {
    let value: @Sendable () -> Value
    /// nil: no default worth stating.
    let text: String?
    /// Whether `text` is prose (`every core the process may use`) rather than a value (`16384`).
    let isDescription: Bool

    /// A fixed default, written as the value itself.
    static func value(_ value: Value) -> Self {
        Self(value: { value }, text: value.settingText, isDescription: false)
    }

    /// A default worked out at run time (or left to another module), stated in words.
    static func described(_ text: String, _ value: @escaping @Sendable () -> Value) -> Self {
        Self(value: value, text: text, isDescription: true)
    }
}

extension SettingDefault where Value: ExpressibleByNilLiteral {
    /// Unset unless a source sets it.
    static var none: Self { Self(value: { nil }, text: nil, isDescription: false) }

    /// Unset here, with what that means in words (`no limit`, `any`).
    static func described(_ text: String) -> Self { Self(value: { nil }, text: text, isDescription: true) }
}

/// Everything about a setting except its value type: its names in each source, where it applies, its help. The
/// docs, the config file and `--help` are rendered from these.
struct SettingInfo: Sendable {
    /// TEI's environment variable, which is also the config-file key: `MAX_BATCH_TOKENS`.
    let key: String
    /// The long flag without its dashes: `max-batch-tokens`.
    let flag: String
    let short: Character?
    /// Earlier flag spellings, still accepted and not shown by --help.
    let aliases: [String]
    /// One line, no final period: --help, the docs and the config file all show it.
    let help: String
    /// More for docs/configuration.md, after the help line.
    let details: String?
    /// The default's text per subcommand (nil: none), and whether it is prose.
    let defaults: [Subcommand: (text: String?, isDescription: Bool)]
    /// In --help's order.
    let subcommands: [Subcommand]
    let section: SettingSection
    /// A presence flag (`--json-output`) rather than an option with a value.
    let isFlag: Bool
    /// Accepted for TEI's sake but left out of --help and the docs.
    let isHidden: Bool
    /// Whether the config file may set it (not the config file's own path).
    let inConfigFile: Bool
    /// Accepted for TEI compatibility but without effect here; logged at start-up with this reason.
    let ignoredBecause: String?

    /// `MAX_BATCH_TOKENS` for the value name in --help and the docs, as TEI's clap shows it.
    var valueName: String { flag.uppercased().replacingOccurrences(of: "-", with: "_") }

    /// The setting's default in words for `subcommand`, as --help and the config file's comments write it.
    func defaultPhrase(for subcommand: Subcommand) -> String? {
        guard let entry = defaults[subcommand], let text = entry.text else { return nil }
        return entry.isDescription ? "default: \(text)" : "default \(text)"
    }

    /// The help line with the default: `Most tokens in one packed batch (default 16384).`
    func sentence(for subcommand: Subcommand) -> String {
        guard !isFlag, let phrase = defaultPhrase(for: subcommand) else { return help + "." }
        return "\(help) (\(phrase))."
    }

    /// The --help line: the sentence, and for serve (which reads it) the environment variable.
    func helpText(for subcommand: Subcommand) -> String {
        subcommand == .serve ? "\(sentence(for: subcommand)) [\(key)]" : sentence(for: subcommand)
    }
}

/// One setting: its names in every source, its default, its help, and how its value is read and checked.
struct Setting<Value: SettingValue>: Sendable {
    let info: SettingInfo
    let serveDefault: SettingDefault<Value>
    /// `embed`'s default where it differs from serve's.
    let embedDefault: SettingDefault<Value>?
    /// Beyond the type: a lower bound, a supported choice.
    let accepts: @Sendable (Value) -> Bool
    /// The error for an unreadable or unaccepted text, given where it came from (`--port`, `environment variable
    /// PORT`, `PORT in the config file`).
    let rejection: @Sendable (_ origin: String, _ text: String) -> String

    init(
        _ key: String, flag: String, short: Character? = nil, aliases: [String] = [], help: String,
        details: String? = nil, default serveDefault: SettingDefault<Value>,
        embedDefault: SettingDefault<Value>? = nil, subcommands: [Subcommand] = [.serve],
        section: SettingSection, isFlag: Bool = false, isHidden: Bool = false, inConfigFile: Bool = true,
        ignoredBecause: String? = nil, accepts: @escaping @Sendable (Value) -> Bool = { _ in true },
        rejection: (@Sendable (_ origin: String, _ text: String) -> String)? = nil
    ) {
        var defaults: [Subcommand: (text: String?, isDescription: Bool)] = [:]
        for subcommand in subcommands {
            let entry = subcommand == .embed ? embedDefault ?? serveDefault : serveDefault
            defaults[subcommand] = (entry.text, entry.isDescription)
        }
        info = SettingInfo(
            key: key, flag: flag, short: short, aliases: aliases, help: help, details: details, defaults: defaults,
            subcommands: subcommands, section: section, isFlag: isFlag, isHidden: isHidden,
            inConfigFile: inConfigFile, ignoredBecause: ignoredBecause)
        self.serveDefault = serveDefault
        self.embedDefault = embedDefault
        self.accepts = accepts
        self.rejection = rejection ?? { origin, text in "\(origin): `\(text)` is not \(Value.expectation)" }
    }

    private init(
        copying other: Self, accepts: @escaping @Sendable (Value) -> Bool,
        rejection: @escaping @Sendable (String, String) -> String
    ) {
        info = other.info
        serveDefault = other.serveDefault
        embedDefault = other.embedDefault
        self.accepts = accepts
        self.rejection = rejection
    }

    /// The value when no source sets it (serve's, unless another subcommand is named).
    func defaultValue(for subcommand: Subcommand = .serve) -> Value {
        (subcommand == .embed ? embedDefault ?? serveDefault : serveDefault).value()
    }

    /// `text` read and checked, or the error naming `origin`.
    func read(_ text: String, origin: String) throws(SettingsError) -> Value {
        guard let value = Value(settingText: text), accepts(value) else {
            throw SettingsError(description: rejection(origin, text))
        }
        return value
    }
}

/// The error of an integer below its bound, as flags, environment and config file share it.
private func belowMinimum(_ minimum: Int) -> @Sendable (String, String) -> String {
    { origin, text in "\(origin): `\(text)` is not an integer ≥ \(minimum)" }
}

extension Setting where Value == Int {
    /// An integer setting with a lower bound.
    init(
        _ key: String, flag: String, short: Character? = nil, aliases: [String] = [], help: String,
        details: String? = nil, default serveDefault: SettingDefault<Int>, embedDefault: SettingDefault<Int>? = nil,
        minimum: Int, subcommands: [Subcommand] = [.serve], section: SettingSection, ignoredBecause: String? = nil
    ) {
        self.init(
            key, flag: flag, short: short, aliases: aliases, help: help, details: details, default: serveDefault,
            embedDefault: embedDefault, subcommands: subcommands, section: section, ignoredBecause: ignoredBecause,
            accepts: { $0 >= minimum }, rejection: belowMinimum(minimum))
    }
}

extension Setting where Value == Int? {
    /// An optional integer setting with a lower bound.
    init(
        _ key: String, flag: String, help: String, details: String? = nil, default serveDefault: SettingDefault<Int?>,
        minimum: Int, section: SettingSection
    ) {
        self.init(
            key, flag: flag, help: help, details: details, default: serveDefault, section: section,
            accepts: { ($0 ?? minimum) >= minimum }, rejection: belowMinimum(minimum))
    }

    /// This setting with a lower bound known only at run time (`--max-buffered-bytes` ≥ `--payload-limit`).
    func atLeast(_ minimum: Int) -> Self {
        Self(copying: self, accepts: { ($0 ?? minimum) >= minimum }, rejection: belowMinimum(minimum))
    }
}
