/// Why a string is not a digest this store accepts (OCI image-spec descriptor grammar,
/// restricted to the registered algorithms).
public enum DigestError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No `:` separates algorithm and hex.
    case missingSeparator
    /// The algorithm is not sha256 or sha512 (OCI also forbids uppercase here).
    case unsupportedAlgorithm(String)
    /// The hex part has the wrong length for the algorithm.
    case wrongLength(algorithm: DigestAlgorithm, expected: Int, actual: Int)
    /// The hex part has a byte outside `[0-9a-f]`, at this offset in the hex part.
    case invalidHex(offset: Int)

    public var description: String {
        switch self {
        case .missingSeparator: "digest has no ':' between algorithm and hex"
        case .unsupportedAlgorithm(let name): "unsupported digest algorithm '\(name)'"
        case .wrongLength(let algorithm, let expected, let actual):
            "\(algorithm) digest needs \(expected) hex characters, got \(actual)"
        case .invalidHex(let offset):
            "digest hex has a character other than lowercase 0-9a-f at offset \(offset)"
        }
    }
}
