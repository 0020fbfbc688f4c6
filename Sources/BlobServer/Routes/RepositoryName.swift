/// A repository name as the OCI distribution spec defines it:
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`, at most 255
/// bytes. Nothing else gets through: no `..`, no empty component, no percent-encoding, no
/// uppercase, so a name is always safe to use as a path or a key.
public struct RepositoryName: Hashable, Sendable, CustomStringConvertible {
    public let value: String
    public static let maxLength = 255

    /// Validates `text`; nil when it breaks the grammar.
    public init?(_ text: some StringProtocol) {
        guard !text.isEmpty, text.utf8.count <= Self.maxLength else { return nil }
        for component in text.split(separator: "/", omittingEmptySubsequences: false) {
            guard Self.isValidComponent(Array(component.utf8)) else { return nil }
        }
        value = String(text)
    }

    public var description: String { value }

    /// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
    private static func isValidComponent(_ bytes: some Sequence<UInt8>) -> Bool {
        var separator: [UInt8] = []
        var sawAlphanumeric = false
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                if !separator.isEmpty {
                    guard isValidSeparator(separator) else { return false }
                    separator.removeAll(keepingCapacity: true)
                }
                sawAlphanumeric = true
            case UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                guard sawAlphanumeric else { return false }
                separator.append(byte)
            default:
                return false
            }
        }
        return sawAlphanumeric && separator.isEmpty
    }

    /// `\.|_|__|-+`
    private static func isValidSeparator(_ run: [UInt8]) -> Bool {
        run == [UInt8(ascii: ".")] || run == [UInt8(ascii: "_")] || run == [UInt8(ascii: "_"), UInt8(ascii: "_")]
            || run.allSatisfy { $0 == UInt8(ascii: "-") }
    }
}

/// A tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
public struct Tag: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let value: String

    public init?(_ text: some StringProtocol) {
        let bytes = Array(text.utf8)
        guard (1...128).contains(bytes.count) else { return nil }
        func allowed(_ byte: UInt8, first: Bool) -> Bool {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"): true
            case UInt8(ascii: "."), UInt8(ascii: "-"): !first
            default: false
            }
        }
        guard allowed(bytes[0], first: true), bytes.dropFirst().allSatisfy({ allowed($0, first: false) }) else { return nil }
        value = String(text)
    }

    public var description: String { value }
    public static func < (lhs: Tag, rhs: Tag) -> Bool { lhs.value < rhs.value }
}
