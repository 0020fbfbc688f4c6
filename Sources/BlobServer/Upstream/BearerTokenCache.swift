import Synchronization

/// Bearer tokens of one upstream, cached per realm, service and scope until shortly before
/// they expire, and found again by repository so a later request for the same repository
/// sends its token at once instead of collecting a 401 first.
///
/// Bounded: at most `maxEntries` tokens and repositories; past that, expired entries go, and
/// then everything (the next requests fetch again). Thread-safe (a Mutex).
final class BearerTokenCache: Sendable {
    /// What a token is for: a challenge's realm, service and scope.
    struct Key: Hashable, Sendable {
        let realm: String
        let service: String?
        let scope: String?
    }

    private struct Entry {
        let token: String
        /// When to stop sending it, on `clock`.
        let reuseUntil: Double
    }

    private struct State {
        var tokens: [Key: Entry] = [:]
        var keysByRepository: [String: Key] = [:]
    }

    static let maxEntries = 4096

    private let state = Mutex(State())
    /// Seconds on a monotonic clock; injectable so tests can age tokens.
    private let clock: @Sendable () -> Double

    init(clock: @escaping @Sendable () -> Double = { Double(monotonicNanoseconds()) / 1e9 }) {
        self.clock = clock
    }

    /// How long a token of `lifetime` seconds is sent: its lifetime less a margin (a tenth,
    /// at most 10 s), so a token never expires between leaving here and reaching the registry.
    static func reuseSeconds(lifetime: Double) -> Double {
        lifetime - min(10, lifetime / 10)
    }

    /// The live token last stored for `repository`, if any.
    func token(forRepository repository: String) -> String? {
        let now = clock()
        return state.withLock { state in
            guard let key = state.keysByRepository[repository], let entry = state.tokens[key] else { return nil }
            guard entry.reuseUntil > now else {
                state.tokens[key] = nil
                return nil
            }
            return entry.token
        }
    }

    /// Keeps `token` for `key`, and remembers that `repository` uses it.
    func store(_ token: BearerToken, for key: Key, repository: String) {
        let now = clock()
        let reuseUntil = now + Self.reuseSeconds(lifetime: token.lifetime)
        state.withLock { state in
            if state.tokens.count >= Self.maxEntries { state.tokens = state.tokens.filter { $0.value.reuseUntil > now } }
            if state.tokens.count >= Self.maxEntries { state.tokens.removeAll() }
            if state.keysByRepository.count >= Self.maxEntries { state.keysByRepository.removeAll() }
            state.keysByRepository[repository] = key
            if reuseUntil > now { state.tokens[key] = Entry(token: token.value, reuseUntil: reuseUntil) }
        }
    }

    /// Drops the token for `key` and the one `repository` used: the registry refused it.
    func remove(_ key: Key, repository: String) {
        state.withLock { state in
            state.tokens[key] = nil
            if let used = state.keysByRepository.removeValue(forKey: repository) { state.tokens[used] = nil }
        }
    }
}
