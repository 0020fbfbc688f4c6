/// Who may push and pull, from the `auth_token`, `auth_basic`, `anonymous_push` and `pull_auth`
/// settings.
///
/// - Writes (POST, PUT, PATCH, DELETE, and every upload-session request) need a configured
///   credential when any is configured. When none is, they are open on a loopback listener or
///   with `anonymous_push`, and refused elsewhere.
/// - Pulls are open, unless `pull_auth` is set and a credential is configured.
/// - `GET /v2/` checks a credential the client presents, so `docker login` learns whether it works.
/// - `/healthz`, `/readyz` and `/metrics` are always open, for probes and scrapers.
///
/// Secrets are compared in constant time. Immutable, so any thread may use it.
struct AccessPolicy: Sendable {
    /// What a request needs to be let through.
    enum Requirement {
        case open, pull, push
        /// `GET /v2/`: a pull, and a presented credential must be valid.
        case apiCheck
    }

    private let tokens: [[UInt8]]
    private let basicPairs: [[UInt8]]
    private let anonymousPush: Bool
    private let pullAuth: Bool

    init(_ configuration: ServerConfiguration) {
        tokens = configuration.authTokens.map { Array($0.utf8) }
        basicPairs = configuration.authBasic.map { Array($0.pair.utf8) }
        anonymousPush = configuration.anonymousPush
        pullAuth = configuration.pullAuth
    }

    private var hasCredentials: Bool { !tokens.isEmpty || !basicPairs.isEmpty }

    /// nil when `request` may go ahead; else the 401 to answer.
    func refusal(for request: RequestContext, needing requirement: Requirement) -> Response? {
        let presented = request.head.headers.valueBytes("authorization")
        switch requirement {
        case .open:
            return nil
        case .pull:
            guard pullAuth, hasCredentials else { return nil }
            return accepts(presented) ? nil : challenge("pulls need a credential")
        case .apiCheck:
            guard hasCredentials, pullAuth || presented != nil else { return nil }
            return accepts(presented) ? nil : challenge("the credential is not valid")
        case .push:
            if hasCredentials { return accepts(presented) ? nil : challenge("pushes need a credential") }
            if request.listenerIsLoopback || anonymousPush { return nil }
            return challenge("pushes are open on loopback listeners only; configure auth_token, auth_basic or anonymous_push")
        }
    }

    /// Whether `field` (an `Authorization` value) holds a configured credential. Every configured
    /// secret is compared, so the time taken does not say which one nearly matched.
    private func accepts(_ field: ArraySlice<UInt8>?) -> Bool {
        guard let field, let space = field.firstIndex(of: UInt8(ascii: " ")) else { return false }
        let scheme = String(decoding: field[..<space], as: UTF8.self).lowercased()
        let credentials = field[space...].drop { $0 == UInt8(ascii: " ") }
        var matched = false
        switch scheme {
        case "bearer":
            for token in tokens { matched = Self.constantTimeEquals(token, credentials) || matched }
        case "basic":
            guard let pair = Base64.decode(credentials) else { return false }
            for expected in basicPairs { matched = Self.constantTimeEquals(expected, pair[...]) || matched }
        default:
            return false
        }
        return matched
    }

    /// Compares in time that depends on `expected`'s length only, never on where the bytes differ.
    static func constantTimeEquals(_ expected: [UInt8], _ presented: ArraySlice<UInt8>) -> Bool {
        var difference: UInt8 = expected.count == presented.count ? 0 : 1
        var position = presented.startIndex
        for byte in expected {
            let other = position < presented.endIndex ? presented[position] : ~byte
            difference |= byte ^ other
            if position < presented.endIndex { position += 1 }
        }
        return difference == 0
    }

    /// 401 UNAUTHORIZED with a challenge per configured scheme (Basic when none is).
    private func challenge(_ detail: String) -> Response {
        var headers: [(name: String, value: String)] = []
        if !basicPairs.isEmpty || tokens.isEmpty { headers.append(("WWW-Authenticate", #"Basic realm="blobcache""#)) }
        if !tokens.isEmpty { headers.append(("WWW-Authenticate", #"Bearer realm="blobcache""#)) }
        headers.append(("Docker-Distribution-API-Version", "registry/2.0"))
        return Response(OCIError(.unauthorized, detail: detail), headers: headers)
    }
}
