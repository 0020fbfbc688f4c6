/// Makes the `UpstreamClient` for each upstream the directory needs, from the server's
/// configuration: the CA file, TLS verification, and the credentials `upstream_auth` names for
/// that registry (matched by the mapping's registry, else by the URL's host). Passwords are
/// read once, at start, so a missing secret fails the start with the key named.
public struct UpstreamClientFactory: Sendable {
    private let configuration: ServerConfiguration
    private let credentials: [String: UpstreamCredentials]
    private let environment: [String: String]
    public let counters: UpstreamCounters
    private let logger: Logger

    /// Reads every `upstream_auth` password (from its file or variable).
    public init(
        configuration: ServerConfiguration, environment: [String: String], logger: Logger,
        readFile: (String) throws(ConfigurationValueError) -> [UInt8] = ConfigurationLoader.readWholeFile
    ) throws(ConfigurationError) {
        var credentials: [String: UpstreamCredentials] = [:]
        for setting in configuration.upstreamAuth {
            do {
                let password = try setting.password(environment: environment, readFile: readFile)
                credentials[setting.registry] = UpstreamCredentials(username: setting.user, password: password)
            } catch {
                throw ConfigurationError(key: "upstream_auth", value: "\(setting.registry)=\(setting.user):…", reason: error.reason)
            }
        }
        self.configuration = configuration
        self.credentials = credentials
        self.environment = environment
        self.logger = logger
        counters = UpstreamCounters()
    }

    /// A client for `url`, serving `registry` (nil: requests without `ns`).
    public func makeClient(registry: String?, url: String) throws(UpstreamError) -> any UpstreamFetching {
        var settings = UpstreamClient.Configuration(baseURL: url, environment: environment)
        settings.caFile = configuration.upstreamCAFile
        settings.tlsVerify = configuration.upstreamTLSVerify
        settings.credentials = registry.flatMap { credentials[$0] } ?? Self.host(of: url).flatMap { credentials[$0] }
        do {
            return try UpstreamClient(configuration: settings, counters: counters, logger: logger)
        } catch {
            throw .unreachable("upstream \(url): \(error)")
        }
    }

    /// `host[:port]` of an http(s) URL, lowercased.
    static func host(of url: String) -> String? {
        guard let scheme = url.firstRange(of: "://") else { return nil }
        let rest = url[scheme.upperBound...]
        let host = rest.prefix { $0 != "/" && $0 != "?" }
        return host.isEmpty ? nil : host.lowercased()
    }
}
