/// A count of bytes as people write it in flags and configuration: `1048576`, `512MiB`,
/// `1.5GiB`, `10GB`.
///
/// Grammar: digits, an optional fraction (`.` and digits), then an optional unit, with no
/// space anywhere. Units are case-sensitive except `k`/`K`:
/// - none or `B`: bytes;
/// - `KiB` `MiB` `GiB` `TiB`, the Kubernetes spellings `Ki` `Mi` `Gi` `Ti`, and the bare
///   `K` (or `k`) `M` `G` `T`: powers of 1024. A bare letter is binary because that is what
///   people mean when they size caches and memory;
/// - `KB` (or `kB`) `MB` `GB` `TB`: powers of 1000.
///
/// A fraction is allowed (`1.5GiB`); the result is rounded down to whole bytes, computed
/// exactly (no floating point). A percentage is not a `ByteSize`; see `SizeLimit`.
public struct ByteSize: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The number of bytes.
    public var bytes: UInt64

    /// 1024 bytes.
    public static let kibibyte: UInt64 = 1 << 10
    /// 1024² bytes.
    public static let mebibyte: UInt64 = 1 << 20
    /// 1024³ bytes.
    public static let gibibyte: UInt64 = 1 << 30
    /// 1024⁴ bytes.
    public static let tebibyte: UInt64 = 1 << 40

    /// Wraps a number of bytes.
    public init(_ bytes: UInt64) {
        self.bytes = bytes
    }

    /// Parses a size such as `512MiB`. Throws `ByteSizeError`, which names the text, for an
    /// empty string, a space, a sign, an unknown unit, a percentage or more than `UInt64.max`.
    public init(parsing text: some StringProtocol) throws(ByteSizeError) {
        let text = String(text)
        let parts = try SizeText(text)
        if parts.unit == "%" { throw ByteSizeError(text: text, reason: .percentNotAllowed) }
        guard let multiplier = ByteSize.multiplier(unit: parts.unit) else {
            throw ByteSizeError(text: text, reason: .unknownUnit(String(parts.unit)))
        }
        guard let bytes = parts.scaled(by: multiplier) else {
            throw ByteSizeError(text: text, reason: .tooLarge)
        }
        self.bytes = bytes
    }

    /// The size for people: `1023B`, `512MiB`, `1.5GiB`. Binary units up to TiB, at most two
    /// decimals, rounded down, so the text parses back to at most `bytes` (exactly when the
    /// size is a whole number of hundredths of its unit).
    public static func format(_ bytes: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var level = 0
        while level < units.count - 1 && bytes >> (10 * (level + 1)) > 0 { level += 1 }
        let shift = UInt64(10 * level)
        let whole = bytes >> shift
        let rest = bytes & ((1 << shift) - 1)
        // rest < 2^40, so rest * 100 cannot overflow.
        var hundredths = (rest * 100) >> shift
        var text = String(whole)
        if hundredths > 0 {
            var digits = 2
            while hundredths % 10 == 0 { hundredths /= 10; digits -= 1 }
            text += digits == 2 && hundredths < 10 ? ".0\(hundredths)" : ".\(hundredths)"
        }
        return text + units[level]
    }

    /// The same as `ByteSize.format(bytes)`.
    public var description: String { ByteSize.format(bytes) }

    /// Orders sizes by their bytes.
    public static func < (lhs: ByteSize, rhs: ByteSize) -> Bool { lhs.bytes < rhs.bytes }

    /// Bytes per unit, or nil for a unit this grammar does not know.
    static func multiplier(unit: Substring) -> UInt64? {
        switch unit {
        case "", "B": 1
        case "KiB", "Ki", "K", "k": kibibyte
        case "MiB", "Mi", "M": mebibyte
        case "GiB", "Gi", "G": gibibyte
        case "TiB", "Ti", "T": tebibyte
        case "KB", "kB": 1_000
        case "MB": 1_000_000
        case "GB": 1_000_000_000
        case "TB": 1_000_000_000_000
        default: nil
        }
    }
}

/// Why a string is not a size. `description` quotes the offending text, so a message can
/// name the flag or key and pass this along.
public struct ByteSizeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What is wrong with the text.
    public enum Reason: Equatable, Sendable {
        /// Nothing was given.
        case empty
        /// A space or other whitespace, e.g. `512 MiB`.
        case containsSpace
        /// A leading `-`.
        case negative
        /// No digits where the number should be, or a dangling `.`.
        case notANumber
        /// A suffix that is not one of the units; the associated value is that suffix.
        case unknownUnit(String)
        /// More bytes than `UInt64.max`.
        case tooLarge
        /// A percentage where only an absolute size makes sense.
        case percentNotAllowed
        /// A percentage above 100.
        case percentOutOfRange
    }

    /// The text as given.
    public let text: String
    /// What is wrong with it.
    public let reason: Reason

    /// Records why `text` is not a size.
    public init(text: String, reason: Reason) {
        self.text = text
        self.reason = reason
    }

    /// One line for a person: the text in quotes, what is wrong, and what would be right.
    public var description: String {
        let quoted = "'\(text)'"
        return switch reason {
        case .empty:
            "size is empty ('' given); write a number of bytes such as 1048576, 512MiB or 10GiB"
        case .containsSpace:
            "size \(quoted) contains whitespace; write the number and unit together, e.g. 512MiB"
        case .negative:
            "size \(quoted) is negative"
        case .notANumber:
            "size \(quoted) is not a number with an optional unit, e.g. 1048576, 512MiB or 1.5GiB"
        case .unknownUnit(let unit):
            "size \(quoted) has unknown unit '\(unit)'; use B, KiB, MiB, GiB, TiB (K, M, G, T are "
                + "the same) or KB, MB, GB, TB (powers of 1000)"
        case .tooLarge:
            "size \(quoted) is larger than \(UInt64.max) bytes"
        case .percentNotAllowed:
            "size \(quoted) is a percentage, but only an absolute size is allowed here"
        case .percentOutOfRange:
            "size \(quoted) is not a percentage between 0% and 100%"
        }
    }
}

/// A size split into its number and unit: `1.5GiB` is integer `1`, fraction `5`, unit `GiB`.
/// Only the shape is checked here; the caller decides which units it takes.
struct SizeText {
    /// The number as written, without the unit: `1.5` for `1.5GiB`.
    let number: Substring
    /// The digits before the point; never empty.
    let integer: Substring
    /// The digits after the point; empty when there is no point.
    let fraction: Substring
    /// Everything after the number.
    let unit: Substring

    init(_ text: String) throws(ByteSizeError) {
        if text.isEmpty { throw ByteSizeError(text: text, reason: .empty) }
        if text.unicodeScalars.contains(where: \.properties.isWhitespace) {
            throw ByteSizeError(text: text, reason: .containsSpace)
        }
        if text.hasPrefix("-") { throw ByteSizeError(text: text, reason: .negative) }
        let all = text[...]
        let integerEnd = SizeText.endOfDigits(in: all, from: all.startIndex)
        if integerEnd == all.startIndex { throw ByteSizeError(text: text, reason: .notANumber) }
        var numberEnd = integerEnd
        var fractionStart = integerEnd
        if integerEnd < all.endIndex && all.utf8[integerEnd] == UInt8(ascii: ".") {
            fractionStart = all.utf8.index(after: integerEnd)
            numberEnd = SizeText.endOfDigits(in: all, from: fractionStart)
            if numberEnd == fractionStart { throw ByteSizeError(text: text, reason: .notANumber) }
        }
        number = all[..<numberEnd]
        integer = all[..<integerEnd]
        fraction = all[fractionStart..<numberEnd]
        unit = all[numberEnd...]
    }

    /// ⌊number × multiplier⌋, or nil when it exceeds `UInt64.max`. Exact for any number of
    /// fraction digits.
    func scaled(by multiplier: UInt64) -> UInt64? {
        var whole: UInt64 = 0
        for digit in integer.utf8 {
            let (times10, overflow1) = whole.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = times10.addingReportingOverflow(UInt64(digit &- UInt8(ascii: "0")))
            if overflow1 || overflow2 { return nil }
            whole = next
        }
        // ⌊0.d1d2…dn × m⌋ from the last digit back: part = ⌊(d × m + part) / 10⌋. Taking the
        // floor at every step gives the same result as one floor at the end, and part < m, so
        // d × m + part < 10 × m fits easily for m ≤ 2^40.
        var part: UInt64 = 0
        for digit in fraction.utf8.reversed() {
            part = (UInt64(digit &- UInt8(ascii: "0")) * multiplier + part) / 10
        }
        let (product, overflow1) = whole.multipliedReportingOverflow(by: multiplier)
        let (total, overflow2) = product.addingReportingOverflow(part)
        return overflow1 || overflow2 ? nil : total
    }

    /// The index of the first non-digit at or after `start`.
    private static func endOfDigits(in text: Substring, from start: Substring.Index) -> Substring.Index {
        text.utf8[start...].firstIndex { $0 < UInt8(ascii: "0") || $0 > UInt8(ascii: "9") } ?? text.endIndex
    }
}
