import BlobStore

/// Everything `blobcache serve` is told, after flags, environment, file and defaults are merged.
public struct ServerConfiguration: Sendable, Equatable {
    public var listen: SocketAddress
    public var dataDirectory: String
    public var maxSize: SizeLimit
    public var minFree: SizeLimit
    public var minReclaim: SizeLimit
    /// nil: the cgroup's memory limit when there is one, else 128 MiB ("auto" in the file).
    public var memoryBudget: UInt64?
    public var upstreams: [UpstreamMapping]
    /// A DNS name (optionally `:PORT`) whose records are the peers; nil: no peers.
    public var peers: String?
    public var dnsServer: SocketAddress?
    /// Seconds between lookups of the peers' DNS name (each one ±20%).
    public var peerRefreshSeconds: UInt64
    /// Concurrent peer transfers of one blob a node sends itself; beyond it redirects.
    public var peerFanout: Int
    /// A file holding a secret every peer request must carry (nil: membership alone).
    public var peerSecretFile: String?
    public var logLevel: LogLevel
    /// Bearer tokens that authorize writes (and pulls, with `pullAuth`).
    public var authTokens: [String]
    /// `user:password` pairs that authorize writes (and pulls, with `pullAuth`) by Basic auth.
    public var authBasic: [BasicCredential]
    /// Writes without a credential from any listener, when no credential is configured.
    public var anonymousPush: Bool
    /// Pulls need a credential too (when one is configured).
    public var pullAuth: Bool
    /// A mirrored tag is answered from the cache for this long, then revalidated upstream.
    public var tagTTLSeconds: UInt64
    /// How long past its TTL a mirrored tag may still be answered when the upstream is down
    /// or refuses (429, 5xx).
    public var tagMaxStaleSeconds: UInt64
    /// With upstreams configured, pushes are refused unless this is set.
    public var mirrorPush: Bool
    /// A PEM file of extra CAs to trust for HTTPS upstreams (beside the system bundle).
    public var upstreamCAFile: String?
    /// Verify upstream TLS certificates and host names. Off only for test registries.
    public var upstreamTLSVerify: Bool
    /// Credentials for upstream registries, by registry host.
    public var upstreamAuth: [UpstreamAuthSetting]

    /// The embedded defaults, the same values as `config/blobcache.json` (a test holds them equal).
    public static let defaults = ServerConfiguration(
        listen: try! SocketAddress(parsing: "127.0.0.1:5000"),
        dataDirectory: "./blobcache-data",
        maxSize: .percent(80), minFree: .percent(5), minReclaim: .bytes(1 << 30),
        memoryBudget: nil, upstreams: [], peers: nil, dnsServer: nil, peerRefreshSeconds: 10, peerFanout: 8,
        peerSecretFile: nil, logLevel: .info,
        authTokens: [], authBasic: [], anonymousPush: false, pullAuth: false,
        tagTTLSeconds: 300, tagMaxStaleSeconds: 86400, mirrorPush: false,
        upstreamCAFile: nil, upstreamTLSVerify: true, upstreamAuth: [])

    /// The memory budget in force: configured, else the cgroup limit, else the default.
    public var resolvedMemoryBudget: MemoryBudget {
        MemoryBudget.resolve(configured: memoryBudget, cgroupLimit: CgroupMemoryLimit.current())
    }

    /// The store's options derived from this configuration.
    public var storeOptions: BlobStoreOptions {
        var options = BlobStoreOptions()
        options.capacity = CapacityPolicy(maxSize: maxSize, minFree: minFree, minReclaim: minReclaim)
        options.memoryBudget = resolvedMemoryBudget
        return options
    }
}

/// How much the server logs: each level includes those after it.
public enum LogLevel: String, Sendable, CaseIterable, Comparable {
    case debug, info, warn, error

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// `[REGISTRY=]URL`: where to fetch what the cache lacks. Without a registry it serves requests
/// that name no `ns`; the registry `*` makes a template for every other `ns`, whose `{ns}` is
/// replaced by the requested host (`*=https://{ns}`).
public struct UpstreamMapping: Sendable, Equatable, CustomStringConvertible {
    public var registry: String?
    public var url: String

    /// Parses `[REGISTRY=]URL`; the URL must be http(s) with a host.
    public init(parsing text: String) throws(ConfigurationValueError) {
        var urlText = Substring(text)
        if let equals = text.firstIndex(of: "="), !text[..<equals].contains("/") {
            let registry = text[..<equals]
            guard registry == "*" || (!registry.isEmpty && registry.allSatisfy({ $0.isLetter || $0.isNumber || ".-:_".contains($0) })) else {
                throw ConfigurationValueError("'\(registry)' is not a registry host name (or * for a template)")
            }
            self.registry = String(registry)
            urlText = text[text.index(after: equals)...]
        } else {
            registry = nil
        }
        let rest: Substring
        if urlText.hasPrefix("https://") { rest = urlText.dropFirst(8) }
        else if urlText.hasPrefix("http://") { rest = urlText.dropFirst(7) }
        else { throw ConfigurationValueError("the URL must start with http:// or https://") }
        let host = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !host.isEmpty, !host.contains("@"), host.allSatisfy({ !$0.isWhitespace }) else {
            throw ConfigurationValueError("the URL needs a host (and no credentials in it)")
        }
        url = String(urlText)
        if registry == "*", !url.contains("{ns}") {
            throw ConfigurationValueError("the template * needs {ns} in its URL, as in *=https://{ns}")
        }
    }

    public var description: String { registry.map { "\($0)=\(url)" } ?? url }
}

/// A `user:password` pair for Basic authentication. The user is non-empty and has no `:`;
/// the password may hold anything but control characters.
public struct BasicCredential: Sendable, Equatable {
    public var user: String
    public var password: String

    public init(parsing text: String) throws(ConfigurationValueError) {
        guard let colon = text.firstIndex(of: ":"), colon != text.startIndex else {
            throw ConfigurationValueError("needs USER:PASSWORD with a non-empty user")
        }
        guard !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw ConfigurationValueError("control characters are not allowed")
        }
        user = String(text[..<colon])
        password = String(text[text.index(after: colon)...])
    }

    /// `user:password`, the bytes a Basic `Authorization` field encodes.
    public var pair: String { "\(user):\(password)" }
}

/// Why a configuration value is unusable, before we know which key it came from.
public struct ConfigurationValueError: Error, Equatable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
}

/// A bad configuration value: names the key as its source spelled it (`--max-size`,
/// `BLOBCACHE_MAX_SIZE`, `max_size in /etc/blobcache.json`), the value, and why.
public struct ConfigurationError: Error, Equatable, CustomStringConvertible {
    public let key: String
    public let value: String
    public let reason: String

    public var description: String {
        value.isEmpty ? "\(key): \(reason)" : "\(key): '\(value)': \(reason)"
    }
}

/// `REGISTRY=USER:file:PATH` or `REGISTRY=USER:env:VARIABLE`: the user to log in to an upstream
/// registry as, and where its password is. The password itself never appears in configuration
/// or on a command line; `password(environment:)` reads it when the mirror starts.
public struct UpstreamAuthSetting: Sendable, Equatable {
    public enum PasswordSource: Sendable, Equatable {
        case file(String)
        case environment(String)
    }

    public var registry: String
    public var user: String
    public var source: PasswordSource

    public init(parsing text: String) throws(ConfigurationValueError) {
        let usage = "needs REGISTRY=USER:file:PATH or REGISTRY=USER:env:VARIABLE"
        guard let equals = text.firstIndex(of: "=") else { throw ConfigurationValueError(usage) }
        let registry = text[..<equals]
        guard !registry.isEmpty, registry.allSatisfy({ $0.isLetter || $0.isNumber || ".-:_".contains($0) }) else {
            throw ConfigurationValueError("'\(registry)' is not a registry host name")
        }
        let rest = text[text.index(after: equals)...]
        let parts = rest.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[2].isEmpty else { throw ConfigurationValueError(usage) }
        switch parts[1] {
        case "file": source = .file(String(parts[2]))
        case "env": source = .environment(String(parts[2]))
        default: throw ConfigurationValueError(usage)
        }
        self.registry = String(registry).lowercased()
        user = String(parts[0])
    }

    /// Reads the password: the file's contents without a trailing newline, or the variable.
    public func password(environment: [String: String], readFile: (String) throws(ConfigurationValueError) -> [UInt8]) throws(ConfigurationValueError) -> String {
        let password: String
        switch source {
        case .file(let path):
            var bytes = try readFile(path)
            while bytes.last == UInt8(ascii: "\n") || bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
            password = String(decoding: bytes, as: UTF8.self)
        case .environment(let name):
            guard let value = environment[name] else { throw ConfigurationValueError("the environment has no \(name)") }
            password = value
        }
        guard !password.isEmpty else { throw ConfigurationValueError("the password is empty") }
        return password
    }
}
