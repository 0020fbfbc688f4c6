import Glibc

/// An absolute `http` or `https` URL as the upstream client uses it: the configured base URL,
/// a redirect's `Location`, a token realm, a proxy. Parsed by hand (RFC 3986) because the
/// client must keep a signed URL's query byte for byte, which a normalizing URL type would not.
struct UpstreamURL: Hashable, Sendable, CustomStringConvertible {
    enum Scheme: String, Sendable {
        case http, https

        var defaultPort: UInt16 { self == .http ? 80 : 443 }
    }

    /// Why text is not a usable URL. The text is kept without its user information, which may
    /// hold a password.
    struct ParseError: Error, Equatable, CustomStringConvertible {
        let text: String
        let reason: String

        init(text: String, reason: String) {
            let authorityStart = text.firstRange(of: "://")?.upperBound ?? text.startIndex
            let authority = text[authorityStart...].prefix { $0 != "/" && $0 != "?" && $0 != "#" }
            if let at = authority.lastIndex(of: "@") {
                self.text = text[..<authorityStart] + "…@" + text[text.index(after: at)...]
            } else {
                self.text = text
            }
            self.reason = reason
        }

        var description: String { "'\(text)' is not an http(s) URL: \(reason)" }
    }

    let scheme: Scheme
    /// Lowercased; an IPv6 literal without brackets.
    let host: String
    let port: UInt16
    /// The request target: path and query, starting with `/`, bytes outside visible ASCII
    /// percent-encoded, everything else as written.
    let target: String
    /// Userinfo (`user:password@`), percent-decoded: only proxy URLs may carry it.
    let user: String?
    let password: String?

    var origin: UpstreamOrigin { UpstreamOrigin(scheme: scheme, host: host, port: port) }

    /// The `Host` field: the port only when it is not the scheme's default.
    var hostField: String {
        port == scheme.defaultPort ? Self.bracketed(host) : "\(Self.bracketed(host)):\(port)"
    }

    /// The target's path, without the query.
    var path: Substring { target[..<(target.firstIndex(of: "?") ?? target.endIndex)] }

    /// Parses an absolute URL. A fragment is dropped; a missing path is `/`.
    init(parsing text: String) throws(ParseError) {
        let lowered = text.prefix(8).lowercased()
        let rest: Substring
        if lowered.hasPrefix("https://") {
            scheme = .https
            rest = text.dropFirst(8)
        } else if lowered.hasPrefix("http://") {
            scheme = .http
            rest = text.dropFirst(7)
        } else {
            throw ParseError(text: text, reason: "it must start with http:// or https://")
        }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") {
            let userinfo = authority[..<at]
            authority = authority[authority.index(after: at)...]
            let colon = userinfo.firstIndex(of: ":")
            guard let user = PercentEncoding.decode(userinfo[..<(colon ?? userinfo.endIndex)]),
                let password = colon.map({ PercentEncoding.decode(userinfo[userinfo.index(after: $0)...]) }) ?? ""
            else { throw ParseError(text: text, reason: "the user information has a broken %-escape") }
            self.user = user
            self.password = colon == nil ? nil : password
        } else {
            user = nil
            password = nil
        }
        (host, port) = try Self.parseAuthority(authority, scheme: scheme, text: text)
        var pathAndQuery = rest[authorityEnd...]
        if let hash = pathAndQuery.firstIndex(of: "#") { pathAndQuery = pathAndQuery[..<hash] }
        target = Self.normalizedTarget(pathAndQuery)
    }

    private init(scheme: Scheme, host: String, port: UInt16, target: String) {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.target = target
        user = nil
        password = nil
    }

    /// This URL with `path` (and its query) put under its own path: the base URL
    /// `https://host/mirror` and `/v2/x/blobs/d` give `https://host/mirror/v2/x/blobs/d`.
    func appending(path: String) -> UpstreamURL {
        var prefix = self.path
        while prefix.hasSuffix("/") { prefix = prefix.dropLast() }
        let suffix = path.hasPrefix("/") ? path : "/" + path
        return UpstreamURL(scheme: scheme, host: host, port: port, target: Self.normalizedTarget(prefix + suffix))
    }

    /// This URL with `parameters` added to its query, values percent-encoded.
    func addingQuery(_ parameters: [(name: String, value: String)]) -> UpstreamURL {
        guard !parameters.isEmpty else { return self }
        let query = parameters.map { "\($0.name)=\(PercentEncoding.encodeQueryValue($0.value))" }.joined(separator: "&")
        let separator = !target.contains("?") ? "?" : (target.hasSuffix("?") || target.hasSuffix("&") ? "" : "&")
        return UpstreamURL(scheme: scheme, host: host, port: port, target: target + separator + query)
    }

    /// The absolute URL a `Location` value names, relative to this one (RFC 3986 §5.2): an
    /// absolute URL, `//authority/path`, `/path`, `?query` or a relative path. The query is kept
    /// byte for byte. Nil for another scheme or an unparsable value.
    func resolving(_ reference: String) -> UpstreamURL? {
        var reference = Substring(reference)
        if let hash = reference.firstIndex(of: "#") { reference = reference[..<hash] }
        if let colon = reference.firstIndex(of: ":"), !reference[..<colon].contains(where: { $0 == "/" || $0 == "?" }) {
            guard let absolute = try? UpstreamURL(parsing: String(reference)), absolute.user == nil else { return nil }
            return absolute
        }
        if reference.hasPrefix("//") {
            guard let absolute = try? UpstreamURL(parsing: "\(scheme.rawValue):\(reference)"), absolute.user == nil else { return nil }
            return absolute
        }
        let queryStart = reference.firstIndex(of: "?") ?? reference.endIndex
        let referencePath = reference[..<queryStart]
        let query = reference[queryStart...]
        let mergedPath: String
        if referencePath.isEmpty {
            mergedPath = String(path)
            if query.isEmpty { return self }
        } else if referencePath.hasPrefix("/") {
            mergedPath = String(referencePath)
        } else {
            let directory = path[...(path.lastIndex(of: "/") ?? path.startIndex)]
            mergedPath = String(directory + referencePath)
        }
        let target = Self.removingDotSegments(mergedPath) + query
        return UpstreamURL(scheme: scheme, host: host, port: port, target: Self.normalizedTarget(Substring(target)))
    }

    /// The URL for logs: no query (a signed URL's signature is a secret), no user information.
    var redactedDescription: String { "\(scheme.rawValue)://\(hostField)\(path)" }

    var description: String { "\(scheme.rawValue)://\(hostField)\(target)" }

    /// `host` as written in a URL: an IPv6 literal in brackets.
    static func bracketed(_ host: String) -> String { host.contains(":") ? "[\(host)]" : host }

    private static func parseAuthority(_ authority: Substring, scheme: Scheme, text: String) throws(ParseError) -> (String, UInt16) {
        func failure(_ reason: String) -> ParseError { ParseError(text: text, reason: reason) }
        let hostPart: Substring
        var portPart: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw failure("an IPv6 address needs its closing ']'") }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw failure("unexpected text after the IPv6 address") }
                portPart = after.dropFirst()
            }
            var address = in6_addr()
            guard inet_pton(AF_INET6, String(hostPart), &address) == 1 else { throw failure("'\(hostPart)' is not an IPv6 address") }
        } else {
            if let colon = authority.firstIndex(of: ":") {
                hostPart = authority[..<colon]
                portPart = authority[authority.index(after: colon)...]
            } else {
                hostPart = authority
            }
            guard !hostPart.isEmpty else { throw failure("the host is missing") }
            guard hostPart.utf8.allSatisfy({ isHostByte($0) }) else { throw failure("'\(hostPart)' is not a host name") }
        }
        var port = scheme.defaultPort
        if let portPart {
            guard !portPart.isEmpty, portPart.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                let number = UInt16(portPart), number > 0
            else { throw failure("the port must be 1-65535") }
            port = number
        }
        return (hostPart.lowercased(), port)
    }

    private static func isHostByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"):
            true
        default:
            false
        }
    }

    /// A target that starts with `/`, dot segments removed from its path, bytes outside
    /// visible ASCII encoded.
    private static func normalizedTarget(_ pathAndQuery: Substring) -> String {
        let queryStart = pathAndQuery.firstIndex(of: "?") ?? pathAndQuery.endIndex
        let path = pathAndQuery[..<queryStart]
        let cleanPath = removingDotSegments(path.hasPrefix("/") ? String(path) : "/" + path)
        return PercentEncoding.encodeForTarget(cleanPath + pathAndQuery[queryStart...])
    }

    /// RFC 3986 §5.2.4 for an absolute path: `.` and `..` segments resolved, never above `/`.
    static func removingDotSegments(_ path: String) -> String {
        guard path.contains(".") else { return path }
        var output: [Substring] = []
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        for (index, segment) in segments.enumerated() {
            let isLast = index == segments.count - 1
            switch segment {
            case ".":
                if isLast { output.append("") }
            case "..":
                if !output.isEmpty { output.removeLast() }
                if isLast { output.append("") }
            default:
                output.append(segment)
            }
        }
        return "/" + output.joined(separator: "/")
    }
}
