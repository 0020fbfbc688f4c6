/// Why a request head was rejected, and the status to answer with before closing.
///
/// Every error is final for the connection: after answering `status` the server closes it,
/// because the framing of whatever follows can no longer be trusted (RFC 9112 §9.3).
public enum HTTPParseError: Error, Hashable, Sendable {
    /// The request line (including empty lines before it) is longer than
    /// `HTTPRequestParser.maxRequestLineBytes`.
    case requestLineTooLong
    /// The header section is longer than `HTTPRequestParser.maxHeaderSectionBytes`.
    case headerSectionTooLarge
    /// More than `HTTPRequestParser.maxHeaderCount` header fields.
    case tooManyHeaders
    /// The method is empty or has a byte that is not a token character.
    case invalidMethod
    /// The request line is not `method SP target SP version`.
    case malformedRequestLine
    /// The target is not origin-form, absolute-form, or `*` with OPTIONS, or has a byte
    /// outside visible ASCII, or a fragment.
    case invalidTarget
    /// The version is not `HTTP/` DIGIT `.` DIGIT.
    case invalidVersion
    /// A well-formed version other than HTTP/1.0 and HTTP/1.1.
    case unsupportedVersion
    /// A line ends in LF without CR. Lenient parsers accept it; two parsers disagreeing on
    /// line ends is how requests are smuggled, so we refuse it.
    case bareLineFeed
    /// A CR that is not followed by LF.
    case bareCarriageReturn
    /// A NUL byte anywhere in the head.
    case nulCharacter
    /// A header name is empty or has a byte that is not a token character.
    case invalidHeaderName
    /// A header value has a control character other than HTAB.
    case invalidHeaderValue
    /// A header line has no colon.
    case missingColon
    /// Whitespace between a header name and its colon (RFC 9112 §5.1).
    case whitespaceBeforeColon
    /// A header line starting with SP or HTAB: obsolete line folding (RFC 9112 §5.2).
    case obsoleteLineFolding
    /// HTTP/1.1 without a Host field.
    case missingHost
    /// More than one Host field.
    case duplicateHost
    /// A Host value that cannot be `uri-host [":" port]` (RFC 9112 §3.2 asks for a 400).
    case invalidHost
    /// A Content-Length that is not digits or does not fit in 64 bits.
    case invalidContentLength
    /// Content-Length values that differ from each other.
    case conflictingContentLength
    /// Both Content-Length and Transfer-Encoding: the classic smuggling vector.
    case contentLengthWithTransferEncoding
    /// Transfer-Encoding whose final coding is not chunked, chunked applied twice, an empty
    /// list, or any Transfer-Encoding on HTTP/1.0 (RFC 9112 §6.1, §6.3).
    case invalidTransferEncoding
    /// A coding before the final chunked that we do not implement (we implement none).
    case unsupportedTransferCoding

    /// The status code to answer with:
    /// - 414 for `requestLineTooLong`;
    /// - 431 for `headerSectionTooLarge` and `tooManyHeaders`;
    /// - 501 for `unsupportedTransferCoding`;
    /// - 505 for `unsupportedVersion`;
    /// - 400 for everything else.
    public var status: Int {
        switch self {
        case .requestLineTooLong: 414
        case .headerSectionTooLarge, .tooManyHeaders: 431
        case .unsupportedTransferCoding: 501
        case .unsupportedVersion: 505
        case .invalidMethod, .malformedRequestLine, .invalidTarget, .invalidVersion,
            .bareLineFeed, .bareCarriageReturn, .nulCharacter, .invalidHeaderName,
            .invalidHeaderValue, .missingColon, .whitespaceBeforeColon, .obsoleteLineFolding,
            .missingHost, .duplicateHost, .invalidHost, .invalidContentLength, .conflictingContentLength,
            .contentLengthWithTransferEncoding, .invalidTransferEncoding:
            400
        }
    }
}
