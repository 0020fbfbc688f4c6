/// A repository name as the OCI distribution spec defines it:
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`, at most 255
/// bytes. Nothing else gets through: no `..`, no empty component, no percent-encoding, no
/// uppercase, so a name is always safe to use as a path or a key.
public struct RepositoryName: Hashable, Sendable, CustomStringConvertible {
    public let value: String
    public static let maxLength = 255

    /// Validates `text`; nil when it breaks the grammar.
    public init?(_ text: some StringProtocol) {
        var copy = String(text)
        guard copy.withUTF8({ Self.isValid(UnsafeRawBufferPointer($0)) }) else { return nil }
        value = copy
    }

    /// Validates UTF-8 bytes, making the String only for a valid name.
    init?(utf8 bytes: UnsafeRawBufferPointer) {
        guard Self.isValid(bytes) else { return nil }
        value = String(decoding: bytes, as: UTF8.self)
    }

    public var description: String { value }

    /// One pass over the bytes: components `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` joined by `/`.
    static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !bytes.isEmpty, bytes.count <= maxLength else { return false }
        var sawAlphanumeric = false
        var separator: UInt8 = 0
        var separatorLength = 0
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                if separatorLength > 0 {
                    // `.` and `_` once, `__`, or any run of `-`.
                    let valid = separator == UInt8(ascii: "-") || separatorLength == 1
                        || (separator == UInt8(ascii: "_") && separatorLength == 2)
                    guard valid else { return false }
                    separatorLength = 0
                }
                sawAlphanumeric = true
            case UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                guard sawAlphanumeric, separatorLength == 0 || separator == byte else { return false }
                separator = byte
                separatorLength += 1
            case UInt8(ascii: "/"):
                guard sawAlphanumeric, separatorLength == 0 else { return false }
                sawAlphanumeric = false
            default:
                return false
            }
        }
        return sawAlphanumeric && separatorLength == 0
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
