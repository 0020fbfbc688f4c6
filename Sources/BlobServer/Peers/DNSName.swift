/// A domain name as DNS labels, compared case-insensitively (RFC 4343).
///
/// Labels are kept as bytes, not joined into one string, so a hostile label holding a `.` can
/// never pass for two labels.
struct DNSName: Sendable, Hashable, CustomStringConvertible {
    /// Lowercased ASCII labels, without the empty root label.
    let labels: [[UInt8]]

    /// The longest name on the wire, length bytes and root included (RFC 1035 §3.1).
    static let maximumWireLength = 255
    static let maximumLabelLength = 63

    /// Labels read from a message; the caller has checked their lengths.
    init(labels: [[UInt8]]) {
        self.labels = labels.map { $0.map(Self.lowercased) }
    }

    /// Parses `peers.blobcache.svc.cluster.local` (a trailing dot is allowed): letters, digits,
    /// `-` and `_`, labels of 1 to 63 bytes, at most 253 characters.
    init(parsing text: String) throws(DNSError) {
        var name = Substring(text)
        if name.hasSuffix(".") { name = name.dropLast() }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard !name.isEmpty, name.utf8.count <= 253 else { throw DNSError.invalidName(text) }
        var labels: [[UInt8]] = []
        for part in parts {
            let bytes = Array(part.utf8)
            guard !bytes.isEmpty, bytes.count <= Self.maximumLabelLength,
                bytes.allSatisfy({ Self.isHostNameByte($0) })
            else { throw DNSError.invalidName(text) }
            labels.append(bytes)
        }
        self.init(labels: labels)
    }

    /// The name in the wire format of a question: length-prefixed labels, then the root.
    var wireBytes: [UInt8] {
        var bytes: [UInt8] = []
        for label in labels {
            bytes.append(UInt8(label.count))
            bytes += label
        }
        bytes.append(0)
        return bytes
    }

    var description: String {
        labels.isEmpty ? "." : labels.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ".")
    }

    private static func isHostNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
            true
        default: false
        }
    }

    private static func lowercased(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
    }
}
