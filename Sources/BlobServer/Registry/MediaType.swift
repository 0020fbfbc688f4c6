/// Media types as manifests and `Content-Type` carry them
/// (`application/vnd.oci.image.manifest.v1+json`). A stored media type goes back out in a
/// `Content-Type` field, so only RFC 6838 names pass: `type/subtype` of
/// `[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*`, at most 127 bytes each.
enum MediaType {
    /// `text` without its parameters (`; charset=…`) and surrounding spaces, when what is left
    /// is a valid `type/subtype`; else nil.
    static func essence(of text: some StringProtocol) -> String? {
        var candidate = Substring(text.prefix { $0 != ";" })
        while candidate.first == " " || candidate.first == "\t" { candidate.removeFirst() }
        while candidate.last == " " || candidate.last == "\t" { candidate.removeLast() }
        return isValid(String(candidate)) ? String(candidate) : nil
    }

    /// Whether `text` is exactly a valid `type/subtype`.
    static func isValid(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        return parts.count == 2 && parts.allSatisfy(isRestrictedName)
    }

    private static func isRestrictedName(_ name: Substring) -> Bool {
        let bytes = name.utf8
        guard let first = bytes.first, bytes.count <= 127, isAlphanumeric(first) else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || "!#$&^_.+-".utf8.contains($0) }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
            || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }
}
