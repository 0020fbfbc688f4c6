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
    public var logLevel: LogLevel
    /// Bearer tokens that authorize writes (and pulls, with `pullAuth`).
    public var authTokens: [String]
    /// `user:password` pairs that authorize writes (and pulls, with `pullAuth`) by Basic auth.
    public var authBasic: [BasicCredential]
    /// Writes without a credential from any listener, when no credential is configured.
    public var anonymousPush: Bool
    /// Pulls need a credential too (when one is configured).
    public var pullAuth: Bool

    /// The embedded defaults, the same values as `config/blobcache.json` (a test holds them equal).
    public static let defaults = ServerConfiguration(
        listen: try! SocketAddress(parsing: "127.0.0.1:5000"),
        dataDirectory: "./blobcache-data",
        maxSize: .percent(80), minFree: .percent(5), minReclaim: .bytes(1 << 30),
        memoryBudget: nil, upstreams: [], peers: nil, dnsServer: nil, logLevel: .info,
        authTokens: [], authBasic: [], anonymousPush: false, pullAuth: false)

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
/// that name no `ns`.
public struct UpstreamMapping: Sendable, Equatable, CustomStringConvertible {
    public var registry: String?
    public var url: String

    /// Parses `[REGISTRY=]URL`; the URL must be http(s) with a host.
    public init(parsing text: String) throws(ConfigurationValueError) {
        var urlText = Substring(text)
        if let equals = text.firstIndex(of: "="), !text[..<equals].contains("/") {
            let registry = text[..<equals]
            guard !registry.isEmpty, registry.allSatisfy({ $0.isLetter || $0.isNumber || ".-:_".contains($0) }) else {
                throw ConfigurationValueError("'\(registry)' is not a registry host name")
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
