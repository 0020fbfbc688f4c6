/// The `ns` query parameter: which registry a request is for (`docker.io`, `ghcr.io`,
/// `localhost:5000`), as containerd sends it to a mirror. It is echoed in `OCI-Namespace`, so
/// only host names and an optional port get through: no spaces, no controls, no punctuation a
/// header or a log line would have to escape.
enum NamespaceParameter {
    static let maxLength = 255

    /// Whether `text` is `label(.label)*[:port]`, labels `[A-Za-z0-9]` with inner `-`.
    static func isValid(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= maxLength else { return false }
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        if parts.count == 2 {
            guard let port = Int(parts[1]), (1...65535).contains(port), parts[1].utf8.allSatisfy(isDigit) else { return false }
        }
        return parts[0].split(separator: ".", omittingEmptySubsequences: false).allSatisfy(isLabel)
    }

    private static func isLabel(_ label: Substring) -> Bool {
        let bytes = label.utf8
        guard let first = bytes.first, let last = bytes.last, bytes.count <= 63 else { return false }
        return isAlphanumeric(first) && isAlphanumeric(last)
            && bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") }
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        isDigit(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }
}
