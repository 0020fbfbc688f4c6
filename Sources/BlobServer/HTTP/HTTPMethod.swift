/// A request method. Methods are case-sensitive (RFC 9110 §9.1), so `get` is `.other`.
///
/// An unknown but well-formed token is not a parse error: the router answers 405 or 501.
public enum HTTPMethod: Hashable, Sendable {
    case get, head, put, post, patch, delete, options
    /// Any other token (CONNECT, TRACE, PROPFIND, lowercase spellings, …).
    case other

    /// Recognizes a method token, already validated as a token, without making a String.
    init(token: UnsafeRawBufferPointer) {
        func matches(_ name: StaticString) -> Bool {
            name.withUTF8Buffer { token.elementsEqual($0) }
        }
        switch token.count {
        case 3: self = matches("GET") ? .get : matches("PUT") ? .put : .other
        case 4: self = matches("HEAD") ? .head : matches("POST") ? .post : .other
        case 5: self = matches("PATCH") ? .patch : .other
        case 6: self = matches("DELETE") ? .delete : .other
        case 7: self = matches("OPTIONS") ? .options : .other
        default: self = .other
        }
    }
}

extension HTTPMethod {
    /// The method's token, for `Allow` and the request log; nil for methods we do not name.
    var token: String? {
        switch self {
        case .get: "GET"
        case .head: "HEAD"
        case .put: "PUT"
        case .post: "POST"
        case .patch: "PATCH"
        case .delete: "DELETE"
        case .options: "OPTIONS"
        case .other: nil
        }
    }
}
