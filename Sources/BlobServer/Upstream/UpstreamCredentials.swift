/// A user name and password for an upstream registry: sent as `Authorization: Basic` when the
/// registry asks for it, and to a bearer token endpoint on the registry's own domain.
///
/// The description never shows the password, so logging the value by mistake leaks nothing.
public struct UpstreamCredentials: Sendable, Equatable, CustomStringConvertible {
    public var username: String
    public var password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    /// The `Authorization` (or `Proxy-Authorization`) field value.
    var basicFieldValue: String { "Basic " + Base64.encode(Array("\(username):\(password)".utf8)) }

    public var description: String { "\(username):<redacted>" }
}
