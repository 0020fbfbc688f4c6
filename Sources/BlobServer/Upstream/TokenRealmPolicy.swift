/// Whether a registry's credentials may go to the token endpoint its bearer challenge names.
///
/// A registry picks the realm, and a hostile or compromised registry could name any host; so
/// the credentials go only to a realm on the registry's own domain: the same host, or a host
/// under the registry host's parent domain (`registry-1.docker.io` and `auth.docker.io` share
/// `docker.io`). The parent must be more than a public suffix: never a bare TLD (`io`), nor
/// a two-letter country code under a short label (`co.uk`, `com.au`), a conservative stand-in
/// for the public suffix list (which would turn `registry.ab.io` into "same host only"; the
/// token endpoint then answers without credentials, which fails safe). IP addresses and
/// single-label hosts (`localhost`) match only themselves.
enum TokenRealmPolicy {
    static func allowsCredentials(realmHost: String, upstreamHost: String) -> Bool {
        let realm = normalized(realmHost)
        let upstream = normalized(upstreamHost)
        if realm == upstream { return true }
        guard !TLSClientSession.isIPAddress(upstream), !TLSClientSession.isIPAddress(realm) else { return false }
        let labels = upstream.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, !labels.contains(where: \.isEmpty) else { return false }
        let parent = labels.dropFirst()
        let domain = parent.count >= 2 && !isPublicSuffixLike(parent) ? parent.joined(separator: ".") : upstream
        return realm == domain || realm.hasSuffix("." + domain)
    }

    /// `co.uk`, `com.au`, `or.jp`: a two-letter country code under a label of at most three
    /// characters.
    private static func isPublicSuffixLike(_ labels: ArraySlice<Substring>) -> Bool {
        labels.count == 2 && labels.last!.count == 2 && labels.first!.count <= 3
    }

    private static func normalized(_ host: String) -> String {
        let lowered = host.lowercased()
        return lowered.hasSuffix(".") ? String(lowered.dropLast()) : lowered
    }
}
