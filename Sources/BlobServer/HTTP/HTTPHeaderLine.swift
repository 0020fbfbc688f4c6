/// One validated header field line (RFC 9112 §5): `field-name ":" OWS field-value OWS`.
struct HTTPHeaderLine {
    /// The name's bytes: a non-empty token.
    var name: UnsafeRawBufferPointer
    /// The value's bytes without surrounding OWS.
    var value: UnsafeRawBufferPointer

    /// Validates `line` (without its CRLF). Errors come from the first offending byte, so
    /// the result does not depend on how the bytes arrived.
    init(validating line: UnsafeRawBufferPointer) throws(HTTPParseError) {
        typealias Syntax = HTTPParseSyntax
        if let first = line.first, Syntax.isWhitespace(first) { throw .obsoleteLineFolding }
        var i = 0
        while i < line.count && line[i] != Syntax.colon {
            let byte = line[i]
            guard Syntax.isTokenChar(byte) else {
                throw Syntax.isWhitespace(byte)
                    ? .whitespaceBeforeColon : Syntax.error(for: byte, otherwise: .invalidHeaderName)
            }
            i += 1
        }
        guard i < line.count else { throw .missingColon }
        guard i > 0 else { throw .invalidHeaderName }
        if let bad = Syntax.firstNonFieldValueByte(in: line, from: i + 1, to: line.count) {
            throw Syntax.error(for: line[bad], otherwise: .invalidHeaderValue)
        }
        name = UnsafeRawBufferPointer(rebasing: line[0..<i])
        value = Syntax.trimmed(UnsafeRawBufferPointer(rebasing: line[(i + 1)...]))
    }
}
