/// A proxy to tunnel through with `CONNECT`, and the `Proxy-Authorization` its URL carries.
struct ProxyRoute: Hashable, Sendable {
    /// Lowercased; an IPv6 literal without brackets.
    let host: String
    let port: UInt16
    /// `Basic …` from `http://user:password@proxy:port`; nil without user information.
    let authorization: String?
}

/// Which proxy, if any, reaches an origin, from the environment as curl reads it:
/// - `https_proxy`/`HTTPS_PROXY` for https origins, `http_proxy`/`HTTP_PROXY` for http ones;
///   the lowercase name wins when both are set, and an empty value means none;
/// - `no_proxy`/`NO_PROXY`: comma- or space-separated entries, each `*` (no proxy at all), a
///   host (`example.com` and `.example.com` both match it and every sub-domain), an IP
///   address (exact), or any of those with `:port` (that port only); IPv6 in brackets.
/// Proxies are plain-HTTP proxies (`http://`, or no scheme); a proxy without a port is on
/// 1080, as in curl. Both http and https origins go through a `CONNECT` tunnel.
///
/// A value: fixed when the client is made.
struct ProxySelection: Sendable, Equatable {
    private struct Exclusion: Equatable {
        let host: String
        let port: UInt16?
    }

    let httpProxy: ProxyRoute?
    let httpsProxy: ProxyRoute?
    private let bypassesAll: Bool
    private let exclusions: [Exclusion]

    /// Reads the variables above from `environment`. Throws naming the variable whose value is
    /// not a usable proxy URL.
    init(environment: [String: String]) throws(UpstreamConfigurationError) {
        func variable(_ name: String) -> (name: String, value: String)? {
            for candidate in [name.lowercased(), name] {
                if let value = environment[candidate] { return value.isEmpty ? nil : (candidate, value) }
            }
            return nil
        }
        func proxy(_ name: String) throws(UpstreamConfigurationError) -> ProxyRoute? {
            guard let (found, value) = variable(name) else { return nil }
            return try Self.route(value, variable: found)
        }
        httpProxy = try proxy("HTTP_PROXY")
        httpsProxy = try proxy("HTTPS_PROXY")
        var bypassesAll = false
        var exclusions: [Exclusion] = []
        let entries = variable("NO_PROXY")?.value.split { $0 == "," || $0 == " " || $0 == "\t" } ?? []
        for entry in entries {
            if entry == "*" {
                bypassesAll = true
            } else if let exclusion = Self.exclusion(entry) {
                exclusions.append(exclusion)
            }
        }
        self.bypassesAll = bypassesAll
        self.exclusions = exclusions
    }

    /// The proxy for `origin`, or nil to connect directly.
    func route(for origin: UpstreamOrigin) -> ProxyRoute? {
        guard let proxy = origin.scheme == .https ? httpsProxy : httpProxy else { return nil }
        if bypassesAll { return nil }
        let host = Self.trimmedHost(origin.host)
        for exclusion in exclusions where exclusion.port == nil || exclusion.port == origin.port {
            if host == exclusion.host || host.hasSuffix("." + exclusion.host) { return nil }
        }
        return proxy
    }

    private static func route(_ value: String, variable: String) throws(UpstreamConfigurationError) -> ProxyRoute {
        let text = value.contains("://") ? value : "http://" + value
        guard text.lowercased().hasPrefix("http://") else {
            let scheme = text.prefix { $0 != ":" }
            throw UpstreamConfigurationError(field: variable, reason: "only http:// proxies are supported, not \(scheme)://")
        }
        let url: UpstreamURL
        do {
            url = try UpstreamURL(parsing: text)
        } catch {
            throw UpstreamConfigurationError(field: variable, reason: error.reason)
        }
        let authorization = url.user.map { UpstreamCredentials(username: $0, password: url.password ?? "").basicFieldValue }
        return ProxyRoute(host: url.host, port: hasExplicitPort(text) ? url.port : 1080, authorization: authorization)
    }

    /// Whether an `http://` URL's authority names a port (a bare IPv6 literal has colons too).
    private static func hasExplicitPort(_ url: String) -> Bool {
        let authority = url.dropFirst(7).prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        let hostAndPort = authority[(authority.lastIndex(of: "@").map { authority.index(after: $0) } ?? authority.startIndex)...]
        return hostAndPort.hasPrefix("[") ? hostAndPort.contains("]:") : hostAndPort.contains(":")
    }

    private static func exclusion(_ entry: Substring) -> Exclusion? {
        var host = entry
        var port: UInt16?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let after = host[host.index(after: close)...]
            if after.hasPrefix(":") {
                guard let number = UInt16(after.dropFirst()) else { return nil }
                port = number
            }
            host = host[host.index(after: host.startIndex)..<close]
        } else if let colon = host.lastIndex(of: ":"), host.firstIndex(of: ":") == colon {
            guard let number = UInt16(host[host.index(after: colon)...]) else { return nil }
            port = number
            host = host[..<colon]
        }
        let trimmed = trimmedHost(String(host.drop { $0 == "." }).lowercased())
        return trimmed.isEmpty ? nil : Exclusion(host: trimmed, port: port)
    }

    /// A host without the trailing dot of a fully qualified name.
    private static func trimmedHost(_ host: String) -> String {
        host.hasSuffix(".") ? String(host.dropLast()) : host
    }
}
