/// One challenge of a `WWW-Authenticate` field (RFC 9110 §11.6.1):
/// `Bearer realm="https://auth.docker.io/token",service="registry.docker.io"`.
struct AuthenticationChallenge: Equatable, Sendable {
    /// Lowercased: schemes are case-insensitive.
    let scheme: String
    /// Parameter names lowercased, values unquoted and unescaped; the first of a repeated name wins.
    let parameters: [String: String]

    /// Every challenge in a field value, or in several values joined with `, `. Parsing stops at
    /// the first thing that is not a challenge; what came before is kept.
    static func parse(_ value: String) -> [AuthenticationChallenge] {
        var scanner = Scanner(bytes: Array(value.utf8))
        var challenges: [AuthenticationChallenge] = []
        while true {
            scanner.skip { $0 == UInt8(ascii: ",") || isWhitespace($0) }
            guard !scanner.isAtEnd, let scheme = scanner.token() else { break }
            var parameters: [String: String] = [:]
            scanner.skip(while: isWhitespace)
            if !scanner.skipToken68() {
                while let (name, value) = scanner.parameter() {
                    if parameters[name] == nil { parameters[name] = value }
                }
            }
            challenges.append(AuthenticationChallenge(scheme: scheme.lowercased(), parameters: parameters))
            scanner.skip(while: isWhitespace)
            guard scanner.isAtEnd || scanner.peek == UInt8(ascii: ",") else { break }
        }
        return challenges
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

    private struct Scanner {
        let bytes: [UInt8]
        var at = 0

        var isAtEnd: Bool { at >= bytes.count }
        var peek: UInt8? { at < bytes.count ? bytes[at] : nil }

        mutating func skip(while predicate: (UInt8) -> Bool) {
            while let byte = peek, predicate(byte) { at += 1 }
        }

        mutating func token() -> String? {
            let start = at
            skip(while: HTTPParseSyntax.isTokenChar)
            return at > start ? String(decoding: bytes[start..<at], as: UTF8.self) : nil
        }

        /// Skips a token68 (`Negotiate abc==`) when the challenge carries one instead of
        /// parameters: its characters, then `=` padding, then the end or a comma.
        mutating func skipToken68() -> Bool {
            let start = at
            skip { $0 < 0x80 && (Self.isAlphanumeric($0) || "-._~+/".utf8.contains($0)) }
            guard at > start else { return false }
            skip { $0 == UInt8(ascii: "=") }
            var end = at
            while end < bytes.count && AuthenticationChallenge.isWhitespace(bytes[end]) { end += 1 }
            if end == bytes.count || bytes[end] == UInt8(ascii: ",") { return true }
            at = start
            return false
        }

        /// `name BWS "=" BWS (token / quoted-string)` and the comma after it. Returns nil, at
        /// the start of what it looked at, when the next list element is not a parameter (it is
        /// the next challenge's scheme).
        mutating func parameter() -> (String, String)? {
            let start = at
            skip { $0 == UInt8(ascii: ",") || AuthenticationChallenge.isWhitespace($0) }
            guard let name = token() else {
                at = start
                return nil
            }
            skip(while: AuthenticationChallenge.isWhitespace)
            guard peek == UInt8(ascii: "=") else {
                at = start
                return nil
            }
            at += 1
            skip(while: AuthenticationChallenge.isWhitespace)
            let value: String
            if peek == UInt8(ascii: "\"") {
                guard let quoted = quotedString() else {
                    at = bytes.count
                    return nil
                }
                value = quoted
            } else {
                guard let plain = token() else {
                    at = start
                    return nil
                }
                value = plain
            }
            skip(while: AuthenticationChallenge.isWhitespace)
            return (name.lowercased(), value)
        }

        /// A quoted string's content, `\x` escapes resolved; nil when it never closes.
        mutating func quotedString() -> String? {
            at += 1
            var content: [UInt8] = []
            while let byte = peek {
                at += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return String(decoding: content, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard let escaped = peek else { return nil }
                    content.append(escaped)
                    at += 1
                default:
                    content.append(byte)
                }
            }
            return nil
        }

        private static func isAlphanumeric(_ byte: UInt8) -> Bool {
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
        }
    }
}
