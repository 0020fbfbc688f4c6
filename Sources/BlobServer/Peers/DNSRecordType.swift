/// The record types this client asks for or follows (RFC 1035 §3.2.2, RFC 3596).
enum DNSRecordType: UInt16, Sendable {
    case a = 1
    case cname = 5
    case aaaa = 28
}

/// The only class we use: Internet.
let dnsClassInternet: UInt16 = 1
