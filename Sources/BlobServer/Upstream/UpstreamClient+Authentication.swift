/// Where one request stands with the registry's authentication.
struct AuthenticationProgress {
    /// A token fetched for this request, sent even if too short-lived to cache.
    var token: String?
    var fetchedToken = false
}

extension UpstreamClient {
    /// The `Authorization` value for `request`, or nil. Credentials and tokens go only to the
    /// upstream's own host and port (a redirect to a CDN gets none); a token endpoint's Basic
    /// only to that endpoint's.
    func authorizationField(for request: OutgoingRequest, purpose: Purpose, progress: AuthenticationProgress) -> String? {
        if case .tokenFetch(let authorization, let origin) = purpose {
            return request.url.origin.sameHostAndPort(as: origin) ? authorization : nil
        }
        guard request.url.origin.sameHostAndPort(as: base.origin) else { return nil }
        if let token = progress.token { return "Bearer \(token)" }
        if usesBasic.load(ordering: .relaxed), let credentials = configuration.credentials { return credentials.basicFieldValue }
        return tokens.token(forRepository: request.repository).map { "Bearer \($0)" }
    }

    /// Answers a 401 so that the next attempt may pass: fetches a token for a bearer
    /// challenge (once per request: a 401 after a fresh token is final), or switches to Basic
    /// when the upstream asks for it and credentials are configured. Throws `.unauthorized`
    /// when there is nothing left to try.
    func answerChallenge(
        _ head: UpstreamResponseHead, to request: OutgoingRequest, sentAuthorization: String?, progress: inout AuthenticationProgress
    ) throws(UpstreamError) {
        let place = request.url.redactedDescription
        guard request.url.origin.sameHostAndPort(as: base.origin) else {
            throw .unauthorized("\(place) answered 401, and the upstream's credentials never go to another host")
        }
        let challenges = head.values("WWW-Authenticate").flatMap(AuthenticationChallenge.parse)
        if let bearer = challenges.first(where: { $0.scheme == "bearer" }) {
            guard !progress.fetchedToken else { throw .unauthorized("\(place) refused a fresh token") }
            guard let realm = bearer.parameters["realm"] else { throw .unauthorized("\(place) sent a bearer challenge without a realm") }
            let scope = bearer.parameters["scope"] ?? (request.repository.isEmpty ? nil : "repository:\(request.repository):pull")
            let key = BearerTokenCache.Key(realm: realm, service: bearer.parameters["service"], scope: scope)
            tokens.remove(key, repository: request.repository)
            let token = try fetchToken(for: key)
            tokens.store(token, for: key, repository: request.repository)
            progress.token = token.value
            progress.fetchedToken = true
            return
        }
        if challenges.contains(where: { $0.scheme == "basic" }), let credentials = configuration.credentials {
            guard sentAuthorization != credentials.basicFieldValue else { throw .unauthorized("\(place) refused the Basic credentials") }
            usesBasic.store(true, ordering: .relaxed)
            return
        }
        let why = configuration.credentials == nil ? "no credentials are configured" : "no challenge we can answer"
        throw .unauthorized("\(place) answered 401 and \(why)")
    }

    /// Gets a token from the realm (`GET realm?service=…&scope=…`), with the Basic credentials
    /// only when the realm is on the upstream's domain (`TokenRealmPolicy`), and never in clear
    /// text to a plain-http realm of an https upstream.
    private func fetchToken(for key: BearerTokenCache.Key) throws(UpstreamError) -> BearerToken {
        guard let realm = try? UpstreamURL(parsing: key.realm), realm.user == nil else {
            throw .unauthorized("the token realm '\(key.realm)' is not an http(s) URL")
        }
        var parameters: [(name: String, value: String)] = []
        if let service = key.service { parameters.append(("service", service)) }
        if let scope = key.scope { parameters.append(("scope", scope)) }
        let url = realm.addingQuery(parameters)
        var authorization: String?
        if let credentials = configuration.credentials, url.scheme == .https || base.scheme == .http,
            TokenRealmPolicy.allowsCredentials(realmHost: url.host, upstreamHost: base.host)
        {
            authorization = credentials.basicFieldValue
        }
        counters.tokenFetched()
        logger?.debug("fetching an upstream token", [
            "realm": .string(url.redactedDescription), "scope": .string(key.scope ?? ""), "with_credentials": .bool(authorization != nil),
        ])
        let request = OutgoingRequest(method: .get, url: url, fields: [("Accept", "application/json")], repository: "")
        let response = try perform(request, purpose: .tokenFetch(authorization: authorization, origin: url.origin))
        guard response.status == 200 else {
            response.abandon()
            throw .unauthorized("the token endpoint \(url.redactedDescription) answered \(response.status)")
        }
        let body = try response.readAll(limit: BearerToken.maxDocumentBytes)
        return try BearerToken.parse(body, now: BearerToken.wallClockNow())
    }
}
