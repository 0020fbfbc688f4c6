import BlobStore

/// Why a DNS lookup failed. A name that does not exist is not an error: it is
/// `DNSLookupResult.nameDoesNotExist`.
enum DNSError: Error, Equatable, CustomStringConvertible {
    /// The text is not a host name we can ask for.
    case invalidName(String)
    /// A socket call failed (no route, refused by the nameserver's host, …).
    case system(SystemError)
    /// No answer within the timeout, after every attempt.
    case timedOut(nameserver: SocketAddress, attempts: Int)
    /// The lookup was abandoned because its owner is stopping.
    case cancelled
    /// The answer had the TC flag even over TCP (over UDP, TC sends the query to TCP instead).
    case truncated
    /// The answer is not a well-formed DNS message; the reason says where it broke.
    case malformed(String)
    /// The answer's ID is not the query's: a late or forged datagram.
    case mismatchedID(expected: UInt16, received: UInt16)
    /// The message is a query, or not a standard query's response.
    case notAResponse
    /// The answer's question is not the one we asked.
    case questionMismatch
    /// The nameserver answered with an error code other than NXDOMAIN.
    case serverFailure(responseCode: UInt8)
    /// A CNAME chain longer than we follow, or a loop.
    case cnameChainTooLong(DNSName)
    /// No nameserver configured and none in /etc/resolv.conf.
    case noNameserver

    var description: String {
        switch self {
        case .invalidName(let text): "'\(text)' is not a valid DNS name"
        case .system(let error): "DNS socket error: \(error)"
        case .timedOut(let nameserver, let attempts): "no DNS answer from \(nameserver) after \(attempts) attempts"
        case .cancelled: "DNS lookup cancelled"
        case .truncated: "DNS answer truncated (TC flag), over TCP too"
        case .malformed(let reason): "malformed DNS answer: \(reason)"
        case .mismatchedID(let expected, let received): "DNS answer ID \(received) does not match query ID \(expected)"
        case .notAResponse: "DNS message is not a response to a standard query"
        case .questionMismatch: "DNS answer is for another question"
        case .serverFailure(let code): "DNS server answered \(Self.responseCodeName(code))"
        case .cnameChainTooLong(let name): "CNAME chain from \(name) is too long or loops"
        case .noNameserver: "no DNS server: none configured (--dns-server) and none in /etc/resolv.conf"
        }
    }

    private static func responseCodeName(_ code: UInt8) -> String {
        switch code {
        case 1: "FORMERR"
        case 2: "SERVFAIL"
        case 4: "NOTIMP"
        case 5: "REFUSED"
        default: "RCODE \(code)"
        }
    }
}
