/// A bad value in an `UpstreamClient.Configuration`, naming the field (or the environment
/// variable, for proxies) so the message points at what to fix.
public struct UpstreamConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    public let field: String
    public let reason: String

    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }

    public var description: String { "upstream \(field): \(reason)" }
}
