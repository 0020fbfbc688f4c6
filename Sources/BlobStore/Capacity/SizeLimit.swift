/// A size given either in bytes or as a share of a filesystem: `--max-size 10GiB` or
/// `--max-size 80%`. A pure value; `resolve(totalBytes:)` turns it into bytes once the
/// filesystem's size is known (it is recomputed from `statvfs`, so it follows a resized volume).
public enum SizeLimit: Equatable, Sendable, CustomStringConvertible {
    /// An absolute number of bytes.
    case bytes(UInt64)
    /// A percentage of the filesystem's total size, 0…100. Values outside that range (only
    /// possible when built in code, never by parsing) are clamped by `resolve`.
    case percent(Double)

    /// Parses anything `ByteSize` accepts, or a percentage such as `80%` or `12.5%` (0…100).
    /// Throws `ByteSizeError`, which names the text.
    public init(parsing text: some StringProtocol) throws(ByteSizeError) {
        let text = String(text)
        let parts = try SizeText(text)
        if parts.unit == "%" {
            guard let value = Double(parts.number), value <= 100 else {
                throw ByteSizeError(text: text, reason: .percentOutOfRange)
            }
            self = .percent(value)
        } else {
            self = .bytes(try ByteSize(parsing: text).bytes)
        }
    }

    /// The limit in bytes on a filesystem of `totalBytes`. A percentage is rounded down and
    /// never exceeds `totalBytes`; `.bytes` is returned as is, even when larger.
    public func resolve(totalBytes: UInt64) -> UInt64 {
        switch self {
        case .bytes(let bytes):
            return bytes
        case .percent(let percent):
            let scaled = (Double(totalBytes) * percent / 100).rounded(.down)
            // `!(scaled > 0)` also catches NaN.
            if !(scaled > 0) { return 0 }
            if scaled >= Double(totalBytes) { return totalBytes }
            return UInt64(scaled)
        }
    }

    /// The limit as it would be written in configuration: `10GiB`, `1048577`, `80%`, `12.5%`.
    /// Parsing the text gives back the same value.
    public var description: String {
        switch self {
        case .bytes(let bytes):
            let human = ByteSize.format(bytes)
            return (try? ByteSize(parsing: human).bytes) == bytes ? human : String(bytes)
        case .percent(let percent):
            if percent == percent.rounded(), abs(percent) < 1e15 { return "\(Int64(percent))%" }
            return "\(percent)%"
        }
    }
}
