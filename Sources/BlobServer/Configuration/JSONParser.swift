/// A strict JSON parser (RFC 8259) for configuration files and manifests: no comments, no
/// trailing commas, no duplicate keys, UTF-8 only, with limits on size, nesting and the number
/// of values, so a hostile document costs bounded time and memory. Errors give the line and
/// column.
public struct JSONParser {
    /// Why a document is not acceptable JSON.
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let line: Int
        public let column: Int
        public let reason: String
        public var description: String { "line \(line), column \(column): \(reason)" }
    }

    public static let maxDocumentBytes = 1 << 20
    public static let maxDepth = 32

    /// How much a document may cost.
    public struct Limits: Sendable {
        public var maxBytes: Int
        /// Values of any kind, containers and members included: each costs a few dozen bytes
        /// parsed, so this bounds the memory of a document full of tiny values.
        public var maxValues: Int

        public init(maxBytes: Int, maxValues: Int) {
            self.maxBytes = maxBytes
            self.maxValues = maxValues
        }

        /// Configuration files: 1 MiB.
        public static let configuration = Limits(maxBytes: maxDocumentBytes, maxValues: .max)
    }

    private let bytes: [UInt8]
    private let limits: Limits
    private var at = 0
    private var depth = 0
    private var values = 0

    /// Parses one JSON document.
    public static func parse(_ text: some Collection<UInt8>, limits: Limits = .configuration) throws(ParseError) -> JSONValue {
        var parser = JSONParser(bytes: Array(text), limits: limits)
        guard parser.bytes.count <= limits.maxBytes else {
            throw ParseError(line: 1, column: 1, reason: "document is larger than \(limits.maxBytes) bytes")
        }
        parser.skipWhitespace()
        let value = try parser.parseValue()
        parser.skipWhitespace()
        guard parser.at == parser.bytes.count else { throw parser.error("unexpected text after the document") }
        return value
    }

    private init(bytes: [UInt8], limits: Limits) {
        self.bytes = bytes
        self.limits = limits
    }

    private func error(_ reason: String) -> ParseError {
        var line = 1
        var column = 1
        for byte in bytes[..<min(at, bytes.count)] {
            if byte == UInt8(ascii: "\n") { line += 1; column = 1 } else { column += 1 }
        }
        return ParseError(line: line, column: column, reason: reason)
    }

    private var current: UInt8? { at < bytes.count ? bytes[at] : nil }

    private mutating func skipWhitespace() {
        while let byte = current, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { at += 1 }
    }

    private mutating func expect(_ literal: StaticString, _ value: JSONValue) throws(ParseError) -> JSONValue {
        let count = literal.utf8CodeUnitCount
        let matches = literal.withUTF8Buffer { expected in
            at + count <= bytes.count && bytes[at..<(at + count)].elementsEqual(expected)
        }
        guard matches else { throw error("unknown literal") }
        at += count
        return value
    }

    private mutating func parseValue() throws(ParseError) -> JSONValue {
        guard let byte = current else { throw error("unexpected end of document") }
        values += 1
        guard values <= limits.maxValues else { throw error("more than \(limits.maxValues) values") }
        switch byte {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): return try expect("true", .bool(true))
        case UInt8(ascii: "f"): return try expect("false", .bool(false))
        case UInt8(ascii: "n"): return try expect("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("unexpected character '\(Unicode.Scalar(byte))'")
        }
    }

    private mutating func enter() throws(ParseError) {
        depth += 1
        guard depth <= Self.maxDepth else { throw error("nesting deeper than \(Self.maxDepth)") }
    }

    private mutating func parseObject() throws(ParseError) -> JSONValue {
        try enter()
        defer { depth -= 1 }
        at += 1
        var members: [(key: String, value: JSONValue)] = []
        // A set, so a hostile object with many keys costs linear time, not quadratic.
        var keys = Set<String>()
        skipWhitespace()
        if current == UInt8(ascii: "}") { at += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else { throw error("expected a key in double quotes") }
            let keyStart = at
            let key = try parseString()
            if !keys.insert(key).inserted {
                at = keyStart
                throw error("duplicate key '\(key)'")
            }
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw error("expected ':' after key '\(key)'") }
            at += 1
            skipWhitespace()
            members.append((key, try parseValue()))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): at += 1
            case UInt8(ascii: "}"): at += 1; return .object(members)
            default: throw error("expected ',' or '}' in object")
            }
        }
    }

    private mutating func parseArray() throws(ParseError) -> JSONValue {
        try enter()
        defer { depth -= 1 }
        at += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") { at += 1; return .array(elements) }
        while true {
            skipWhitespace()
            elements.append(try parseValue())
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): at += 1
            case UInt8(ascii: "]"): at += 1; return .array(elements)
            default: throw error("expected ',' or ']' in array")
            }
        }
    }

    private mutating func parseNumber() throws(ParseError) -> JSONValue {
        let start = at
        func digits() -> Int {
            let from = at
            while let byte = current, byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") { at += 1 }
            return at - from
        }
        if current == UInt8(ascii: "-") { at += 1 }
        let integerStart = at
        guard digits() > 0 else { throw error("a number needs digits") }
        if bytes[integerStart] == UInt8(ascii: "0") && at - integerStart > 1 { throw error("numbers may not have leading zeros") }
        if current == UInt8(ascii: ".") {
            at += 1
            guard digits() > 0 else { throw error("a fraction needs digits") }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            at += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { at += 1 }
            guard digits() > 0 else { throw error("an exponent needs digits") }
        }
        return .number(String(decoding: bytes[start..<at], as: UTF8.self))
    }

    private mutating func parseString() throws(ParseError) -> String {
        at += 1
        var scalars = String.UnicodeScalarView()
        var run = at
        func flushRun(_ parser: JSONParser) throws(ParseError) {
            guard let text = String(validating: parser.bytes[run..<parser.at], as: UTF8.self) else {
                throw parser.error("string is not valid UTF-8")
            }
            scalars.append(contentsOf: text.unicodeScalars)
        }
        while true {
            guard let byte = current else { throw error("unterminated string") }
            switch byte {
            case UInt8(ascii: "\""):
                try flushRun(self)
                at += 1
                return String(scalars)
            case UInt8(ascii: "\\"):
                try flushRun(self)
                at += 1
                scalars.append(try parseEscape())
                run = at
            case 0..<0x20:
                throw error("control character in string (escape it)")
            default:
                at += 1
            }
        }
    }

    private mutating func parseEscape() throws(ParseError) -> Unicode.Scalar {
        guard let byte = current else { throw error("unterminated escape") }
        at += 1
        switch byte {
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "/"): return "/"
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "u"):
            let high = try parseHex4()
            if (0xD800..<0xDC00).contains(high) {
                guard current == UInt8(ascii: "\\"), at + 1 < bytes.count, bytes[at + 1] == UInt8(ascii: "u") else {
                    throw error("unpaired surrogate")
                }
                at += 2
                let low = try parseHex4()
                guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired surrogate") }
                return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))!
            }
            guard let scalar = Unicode.Scalar(high) else { throw error("unpaired surrogate") }
            return scalar
        default:
            throw error("unknown escape '\\\(Unicode.Scalar(byte))'")
        }
    }

    private mutating func parseHex4() throws(ParseError) -> UInt32 {
        guard at + 4 <= bytes.count else { throw error("\\u needs four hex digits") }
        var value: UInt32 = 0
        for byte in bytes[at..<(at + 4)] {
            guard let digit = hexDigitValue(byte) else { throw error("\\u needs four hex digits") }
            value = value << 4 | UInt32(digit)
        }
        at += 4
        return value
    }
}
