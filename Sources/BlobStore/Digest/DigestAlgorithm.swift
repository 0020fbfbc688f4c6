/// The hash functions a digest may name. OCI registers sha256 and sha512.
public enum DigestAlgorithm: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case sha256 = 1
    case sha512 = 2

    /// Length of the raw hash in bytes.
    public var byteCount: Int {
        switch self {
        case .sha256: 32
        case .sha512: 64
        }
    }

    /// Length of the hex encoding, which OCI requires to be exact.
    public var hexCount: Int { byteCount * 2 }

    /// The name used in `algorithm:hex`.
    public var description: String {
        switch self {
        case .sha256: "sha256"
        case .sha512: "sha512"
        }
    }

    /// Parses the algorithm part of a digest from ASCII bytes.
    init?(ascii: UnsafeRawBufferPointer) {
        if ascii.elementsEqual("sha256".utf8) { self = .sha256 }
        else if ascii.elementsEqual("sha512".utf8) { self = .sha512 }
        else { return nil }
    }
}
