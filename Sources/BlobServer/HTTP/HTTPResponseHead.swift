/// A response's status line and header fields, encoded straight into bytes.
///
/// Values are checked as they are added: a CR, LF, NUL or other control character (anything
/// that could end a field or start a forged one) is refused, so text echoed from a request, such
/// as a `Location` built from a repository name, can never split the response.
struct HTTPResponseHead {
    /// Why a field value was refused.
    struct InvalidFieldValue: Error, Equatable {
        let name: String
    }

    let status: Int
    private(set) var bytes: [UInt8]

    /// Starts `HTTP/1.1 <status> <reason>` followed by the cached `Date` field.
    init(status: Int, date: [UInt8]) {
        self.status = status
        bytes = []
        bytes.reserveCapacity(256)
        if status == 200 {
            bytes += "HTTP/1.1 200 OK\r\nDate: ".utf8
        } else {
            bytes += "HTTP/1.1 \(status) \(Self.reason(for: status))\r\nDate: ".utf8
        }
        bytes += date
        bytes.append(0x0D)
        bytes.append(0x0A)
    }

    /// Adds `name: value`. Throws (and adds nothing) when the value has a control character other
    /// than horizontal tab, or leading or trailing whitespace.
    mutating func add(_ name: StaticString, _ value: some StringProtocol) throws(InvalidFieldValue) {
        guard Self.isValidValue(value) else { throw InvalidFieldValue(name: "\(name)") }
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        appendValue(value)
    }

    /// No control character but tab, and no whitespace at either end.
    private static func isValidValue(_ value: some StringProtocol) -> Bool {
        var previous: UInt8 = 0
        var first = true
        for byte in value.utf8 {
            guard byte == 0x09 || (byte >= 0x20 && byte != 0x7F) else { return false }
            if first, byte == 0x20 || byte == 0x09 { return false }
            first = false
            previous = byte
        }
        return previous != 0x20 && previous != 0x09
    }

    private mutating func appendValue(_ value: some StringProtocol) {
        bytes.append(0x3A)
        bytes.append(0x20)
        bytes.append(contentsOf: value.utf8)
        bytes.append(0x0D)
        bytes.append(0x0A)
    }

    /// Adds a field whose value the server made itself from checked parts (a digest, a number,
    /// a range), skipping the check. Never pass text that came from a request or a handler.
    mutating func addTrusted(_ name: StaticString, _ value: String) {
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        appendValue(value)
    }

    /// Adds a field whose name is only known at run time (a handler's extra fields). Throws
    /// when the name is not an RFC 9110 token or the value is refused as above.
    mutating func add(name: String, value: String) throws(InvalidFieldValue) {
        let isToken = !name.isEmpty && name.utf8.allSatisfy { byte in
            (0x21...0x7E).contains(byte) && !"\"(),/:;<=>?@[\\]{}".utf8.contains(byte)
        }
        guard isToken, Self.isValidValue(value) else { throw InvalidFieldValue(name: name) }
        bytes.append(contentsOf: name.utf8)
        appendValue(value)
    }

    /// Adds `name: <decimal>`.
    mutating func add(_ name: StaticString, _ value: UInt64) {
        name.withUTF8Buffer { bytes += $0 }
        bytes += [0x3A, 0x20]
        bytes += String(value).utf8
        bytes += [0x0D, 0x0A]
    }

    /// The finished head: the fields, `Connection: close` when the connection ends after this
    /// response, and the empty line.
    consuming func encoded(closing: Bool) -> [UInt8] {
        var out = bytes
        bytes = []
        if closing { out += "Connection: close\r\n".utf8 }
        out.append(0x0D)
        out.append(0x0A)
        return out
    }

    /// The reason phrases this server sends.
    static func reason(for status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 206: "Partial Content"
        case 304: "Not Modified"
        case 307: "Temporary Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 412: "Precondition Failed"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 416: "Range Not Satisfiable"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        case 507: "Insufficient Storage"
        default: "Status"
        }
    }
}
