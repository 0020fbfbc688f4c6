import BlobStore
import Glibc

/// Builds a `ServerConfiguration` from the command line, the environment and an optional JSON
/// file. Precedence: flag > environment > file > default. Unknown flags, environment variables
/// named `BLOBCACHE_…` that we do not know, and unknown file keys are errors, so a typo never
/// silently falls back to a default.
///
/// Pure apart from `readFile`, which tests replace.
public struct ConfigurationLoader {
    /// One setting and its three spellings.
    struct Setting: Sendable {
        typealias Apply = @Sendable (inout ServerConfiguration, String) throws(ConfigurationValueError) -> Void

        let key: String
        /// Empties the setting's list, for repeatable settings: a higher source replaces the
        /// lower sources' list as a whole. nil for single-valued settings.
        let clear: (@Sendable (inout ServerConfiguration) -> Void)?
        /// Takes `true`/`false`; as a flag it may stand alone, meaning `true`.
        let isBoolean: Bool
        /// Its values are credentials: error messages do not repeat them.
        let isSecret: Bool
        let apply: Apply

        var repeatable: Bool { clear != nil }
        var flag: String { "--" + key.replacingUnderscores(with: "-") }
        var environment: String { "BLOBCACHE_" + key.uppercased() }

        /// The value as error messages may show it.
        func shown(_ value: String) -> String { isSecret ? "(hidden)" : value }

        static func single(_ key: String, _ apply: @escaping Apply) -> Setting {
            Setting(key: key, clear: nil, isBoolean: false, isSecret: false, apply: apply)
        }

        static func boolean(_ key: String, _ assign: @escaping @Sendable (inout ServerConfiguration, Bool) -> Void) -> Setting {
            Setting(key: key, clear: nil, isBoolean: true, isSecret: false) { configuration, text throws(ConfigurationValueError) in
                switch text {
                case "true": assign(&configuration, true)
                case "false": assign(&configuration, false)
                default: throw ConfigurationValueError("must be true or false")
                }
            }
        }

        static func list(
            _ key: String, secret: Bool = false, clear: @escaping @Sendable (inout ServerConfiguration) -> Void,
            _ apply: @escaping Apply
        ) -> Setting {
            Setting(key: key, clear: clear, isBoolean: false, isSecret: secret, apply: apply)
        }
    }

    static let settings: [Setting] = [
        Setting.single("listen") { configuration, text throws(ConfigurationValueError) in
            configuration.listen = try address(text)
        },
        Setting.single("data_dir") { configuration, text throws(ConfigurationValueError) in
            guard !text.isEmpty, !text.contains("\0") else { throw ConfigurationValueError("needs a directory path") }
            configuration.dataDirectory = text
        },
        Setting.single("max_size") { configuration, text throws(ConfigurationValueError) in
            configuration.maxSize = try limit(text)
        },
        Setting.single("min_free") { configuration, text throws(ConfigurationValueError) in
            configuration.minFree = try limit(text)
        },
        Setting.single("min_reclaim") { configuration, text throws(ConfigurationValueError) in
            configuration.minReclaim = try limit(text)
        },
        Setting.single("memory_budget") { configuration, text throws(ConfigurationValueError) in
            if text == "auto" { configuration.memoryBudget = nil; return }
            do {
                let bytes = try ByteSize(parsing: text).bytes
                guard bytes >= 16 << 20 else { throw ConfigurationValueError("must be at least 16MiB (or auto)") }
                configuration.memoryBudget = bytes
            } catch let error as ByteSizeError {
                throw ConfigurationValueError("\(error) (or auto)")
            } catch let error as ConfigurationValueError {
                throw error
            } catch {
                throw ConfigurationValueError("\(error)")
            }
        },
        Setting.list("upstream", clear: { $0.upstreams = [] }) { configuration, text throws(ConfigurationValueError) in
            let mapping = try UpstreamMapping(parsing: text)
            guard !configuration.upstreams.contains(where: { $0.registry == mapping.registry }) else {
                throw ConfigurationValueError("a second upstream for \(mapping.registry ?? "requests without ns")")
            }
            configuration.upstreams.append(mapping)
        },
        Setting.single("peers") { configuration, text throws(ConfigurationValueError) in
            guard !text.isEmpty, text.allSatisfy({ $0.isLetter || $0.isNumber || ".-:,_[]".contains($0) }) else {
                throw ConfigurationValueError("needs DNSNAME[:PORT] or a comma-separated list of HOST:PORT")
            }
            configuration.peers = text
        },
        Setting.single("dns_server") { configuration, text throws(ConfigurationValueError) in
            configuration.dnsServer = try address(text)
        },
        Setting.single("peer_refresh") { configuration, text throws(ConfigurationValueError) in
            let seconds = try DurationText.seconds(parsing: text)
            guard (1...3600).contains(seconds) else { throw ConfigurationValueError("must be between 1s and 1h") }
            configuration.peerRefreshSeconds = seconds
        },
        Setting.single("peer_fanout") { configuration, text throws(ConfigurationValueError) in
            guard let fanout = Int(text), !text.hasPrefix("+"), (1...1024).contains(fanout) else {
                throw ConfigurationValueError("must be a whole number from 1 to 1024")
            }
            configuration.peerFanout = fanout
        },
        Setting.single("peer_secret_file") { configuration, text throws(ConfigurationValueError) in
            guard !text.isEmpty, !text.contains("\0") else { throw ConfigurationValueError("needs a file path") }
            configuration.peerSecretFile = text
        },
        Setting.single("log_level") { configuration, text throws(ConfigurationValueError) in
            guard let level = LogLevel(rawValue: text) else {
                throw ConfigurationValueError("must be one of \(LogLevel.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            configuration.logLevel = level
        },
        Setting.list("auth_token", secret: true, clear: { $0.authTokens = [] }) { configuration, text throws(ConfigurationValueError) in
            // token68 (RFC 9110 §11.2): what a client can send after `Bearer `.
            let allowed = text.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
                default: "-._~+/=".utf8.contains(byte)
                }
            }
            guard !text.isEmpty, allowed, text.first != "=" else {
                throw ConfigurationValueError("a token is letters, digits and -._~+/ (then = padding)")
            }
            configuration.authTokens.append(text)
        },
        // The environment twin separates pairs with commas, so there a password cannot hold one.
        Setting.list("auth_basic", secret: true, clear: { $0.authBasic = [] }) { configuration, text throws(ConfigurationValueError) in
            configuration.authBasic.append(try BasicCredential(parsing: text))
        },
        Setting.boolean("anonymous_push") { $0.anonymousPush = $1 },
        Setting.boolean("pull_auth") { $0.pullAuth = $1 },
        Setting.single("tag_ttl") { configuration, text throws(ConfigurationValueError) in
            configuration.tagTTLSeconds = try DurationText.seconds(parsing: text)
        },
        Setting.single("tag_max_stale") { configuration, text throws(ConfigurationValueError) in
            configuration.tagMaxStaleSeconds = try DurationText.seconds(parsing: text)
        },
        Setting.boolean("mirror_push") { $0.mirrorPush = $1 },
        Setting.single("upstream_ca_file") { configuration, text throws(ConfigurationValueError) in
            guard !text.isEmpty, !text.contains("\0") else { throw ConfigurationValueError("needs a file path") }
            configuration.upstreamCAFile = text
        },
        Setting.boolean("upstream_tls_verify") { $0.upstreamTLSVerify = $1 },
        Setting.list("upstream_auth", clear: { $0.upstreamAuth = [] }) { configuration, text throws(ConfigurationValueError) in
            let setting = try UpstreamAuthSetting(parsing: text)
            guard !configuration.upstreamAuth.contains(where: { $0.registry == setting.registry }) else {
                throw ConfigurationValueError("a second credential for \(setting.registry)")
            }
            configuration.upstreamAuth.append(setting)
        },
    ]

    private static func address(_ text: String) throws(ConfigurationValueError) -> SocketAddress {
        do { return try SocketAddress(parsing: text) } catch { throw ConfigurationValueError("not HOST:PORT: \(error.reason)") }
    }

    private static func limit(_ text: String) throws(ConfigurationValueError) -> SizeLimit {
        do { return try SizeLimit(parsing: text) } catch { throw ConfigurationValueError("\(error)") }
    }

    /// Reads a whole file; replaced in tests.
    var readFile: (String) throws(ConfigurationValueError) -> [UInt8] = ConfigurationLoader.readWholeFile

    public init() {}

    /// Merges `arguments` (the words after `serve`), `environment` and the file named by
    /// `--config` or `BLOBCACHE_CONFIG` over the defaults.
    public func load(arguments: [String], environment: [String: String]) throws(ConfigurationError) -> ServerConfiguration {
        let flags = try Self.parseFlags(arguments)
        var configuration = ServerConfiguration.defaults
        let file = flags.first { $0.setting == nil }?.value ?? environment["BLOBCACHE_CONFIG"]
        if let file { try applyFile(file, to: &configuration) }
        try Self.applyEnvironment(environment, to: &configuration)
        // Flags last: they win. A repeatable flag replaces the lower sources' list as a whole.
        var cleared = Set<String>()
        for (setting, value) in flags {
            guard let setting else { continue }
            if let clear = setting.clear, cleared.insert(setting.key).inserted { clear(&configuration) }
            do { try setting.apply(&configuration, value) } catch {
                throw ConfigurationError(key: setting.flag, value: setting.shown(value), reason: error.reason)
            }
        }
        return configuration
    }

    /// `--flag value` and `--flag=value` pairs in order; a nil setting is `--config`.
    static func parseFlags(_ arguments: [String]) throws(ConfigurationError) -> [(setting: Setting?, value: String)] {
        var result: [(Setting?, String)] = []
        var index = 0
        var seen = Set<String>()
        while index < arguments.count {
            let word = arguments[index]
            index += 1
            let name: String
            var value: String?
            // Split by scalars, not characters: a value starting with a combining mark forms
            // one character with the "=" before it.
            let scalars = word.unicodeScalars
            if let equals = scalars.firstIndex(of: "=") {
                name = String(scalars[..<equals])
                value = String(scalars[scalars.index(after: equals)...])
            } else {
                name = word
            }
            let setting = settings.first { $0.flag == name }
            guard setting != nil || name == "--config" else {
                throw ConfigurationError(key: name, value: "", reason: "unknown option (see blobcache --help)")
            }
            if value == nil, setting?.isBoolean == true, index == arguments.count || arguments[index].hasPrefix("--") {
                value = "true"
            }
            if value == nil {
                guard index < arguments.count, !arguments[index].hasPrefix("--") else {
                    throw ConfigurationError(key: name, value: "", reason: "needs a value")
                }
                value = arguments[index]
                index += 1
            }
            if !(setting?.repeatable ?? false), !seen.insert(name).inserted {
                throw ConfigurationError(key: name, value: value!, reason: "given twice")
            }
            result.append((setting, value!))
        }
        return result
    }

    static func applyEnvironment(_ environment: [String: String], to configuration: inout ServerConfiguration) throws(ConfigurationError) {
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) where name.hasPrefix("BLOBCACHE_") {
            if name == "BLOBCACHE_CONFIG" || name == "BLOBCACHE_POD_IP" { continue }
            guard let setting = settings.first(where: { $0.environment == name }) else {
                throw ConfigurationError(key: name, value: value, reason: "unknown setting")
            }
            do {
                if let clear = setting.clear {
                    clear(&configuration)
                    // By scalars, like the flags: a combining mark after "," must not hide it.
                    for item in value.unicodeScalars.split(separator: ",") { try setting.apply(&configuration, String(item)) }
                } else {
                    try setting.apply(&configuration, value)
                }
            } catch {
                throw ConfigurationError(key: name, value: setting.shown(value), reason: error.reason)
            }
        }
    }

    func applyFile(_ path: String, to configuration: inout ServerConfiguration) throws(ConfigurationError) {
        let bytes: [UInt8]
        do { bytes = try readFile(path) } catch {
            throw ConfigurationError(key: "--config", value: path, reason: error.reason)
        }
        let document: JSONValue
        do { document = try JSONParser.parse(bytes) } catch {
            throw ConfigurationError(key: "--config", value: path, reason: "not valid JSON: \(error)")
        }
        guard case .object(let members) = document else {
            throw ConfigurationError(key: "--config", value: path, reason: "the file must hold one JSON object")
        }
        for (key, value) in members {
            let where_ = "\(key) in \(path)"
            guard let setting = Self.settings.first(where: { $0.key == key }) else {
                throw ConfigurationError(key: where_, value: "", reason: "unknown key")
            }
            let texts: [String]
            switch value {
            case .string(let text): texts = [text]
            case .number(let text) where setting.key.hasSuffix("size") || setting.key.hasPrefix("min") || setting.key == "memory_budget"
                || setting.key.hasPrefix("tag_") || setting.key == "peer_fanout" || setting.key == "peer_refresh":
                texts = [text]
            case .bool(let flag) where setting.isBoolean:
                texts = [flag ? "true" : "false"]
            case .array(let items) where setting.repeatable:
                texts = try items.map { item throws(ConfigurationError) in
                    guard case .string(let text) = item else {
                        throw ConfigurationError(key: where_, value: "", reason: "array items must be strings, not \(item.kind)")
                    }
                    return text
                }
            default:
                let expected = setting.isBoolean ? "true or false" : setting.repeatable ? "a string or an array of strings" : "a string"
                throw ConfigurationError(key: where_, value: "", reason: "must be \(expected), not \(value.kind)")
            }
            do {
                for text in texts { try setting.apply(&configuration, text) }
            } catch {
                throw ConfigurationError(key: where_, value: setting.shown(texts.joined(separator: ",")), reason: error.reason)
            }
        }
    }

    public static func readWholeFile(_ path: String) throws(ConfigurationValueError) -> [UInt8] {
        let file: FileDescriptor
        do { file = try FileDescriptor.open(path, flags: O_RDONLY) } catch { throw ConfigurationValueError("cannot read: \(error)") }
        let fd = file.rawValue
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 { throw ConfigurationValueError("cannot read: \(SystemError(call: "read", path: path, errno: errno))") }
            if count == 0 { return bytes }
            bytes += chunk[..<count]
            guard bytes.count <= JSONParser.maxDocumentBytes else { throw ConfigurationValueError("larger than 1MiB") }
        }
    }
}

extension String {
    fileprivate func replacingUnderscores(with replacement: Character) -> String {
        String(map { $0 == "_" ? replacement : $0 })
    }
}
