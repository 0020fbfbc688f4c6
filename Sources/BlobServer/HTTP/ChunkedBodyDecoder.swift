/// An incremental decoder of a chunked request body (RFC 9112 §7.1): a value with no I/O.
///
/// Contract:
/// - One decoder per body, owned by the connection's loop thread; start it on the bytes
///   right after the head's `consumed`.
/// - Call `decode` with the unconsumed bytes; it reports one event per call:
///   - `.data(range)`: `input[range]` is body. Everything before `range.upperBound` is
///     consumed; call again with the bytes after it.
///   - `.needMore`: all of `input` was framing and is consumed; read more bytes.
///   - `.end(consumed:)`: the body ended within the first `consumed` bytes (after the
///     last chunk, the trailers and the final CRLF); the rest is the next request.
///   - `.error`: answer `error.status` and close. Later calls return the same error.
/// - Chunk extensions and trailer fields are skipped, not interpreted, within limits.
/// - The data spans depend on how the bytes were split; their concatenation does not.
public struct ChunkedBodyDecoder: Hashable, Sendable {
    public enum Event: Hashable, Sendable {
        case data(Range<Int>)
        case needMore
        case end(consumed: Int)
        case error(ChunkedBodyError)
    }

    private enum State: Hashable, Sendable {
        /// In the hex digits of a chunk size.
        case size
        /// After the size: whitespace until `;` or CR.
        case afterSize
        /// In a chunk extension, until CR.
        case chunkExtension
        /// After the CR of a size line.
        case sizeLF
        /// In chunk data.
        case data
        /// After chunk data: CR then LF.
        case dataCR
        case dataLF
        /// At the start of a trailer line or of the final empty line.
        case trailerStart
        /// In a trailer field line, until CR.
        case trailer
        /// After the CR of a trailer field line.
        case trailerLF
        /// After the CR of the final empty line.
        case finalLF
        case done
        case failed(ChunkedBodyError)
    }

    /// The largest body accepted, summed over chunks; more is `.bodyTooLarge` (413),
    /// reported as soon as a chunk size would exceed it, before its data is read.
    public let maxBodyBytes: UInt64
    /// The longest chunk extension on one size line, from `;` to CR.
    public let maxExtensionBytes: Int
    /// The longest trailer section, CRLFs included, excluding the final empty line.
    public let maxTrailerBytes: Int
    /// Body bytes reported so far; the body's length once `.end` is returned.
    public private(set) var bodyBytes: UInt64 = 0

    private var state = State.size
    private var sizeDigits = 0
    private var chunkSize: UInt64 = 0
    private var remaining: UInt64 = 0
    private var extensionBytes = 0
    private var trailerBytes = 0

    public init(maxBodyBytes: UInt64 = .max, maxExtensionBytes: Int = 4096, maxTrailerBytes: Int = 16 * 1024) {
        self.maxBodyBytes = maxBodyBytes
        self.maxExtensionBytes = maxExtensionBytes
        self.maxTrailerBytes = maxTrailerBytes
    }

    /// Decodes as far as the next data span or the end; see the type's contract.
    public mutating func decode(_ input: UnsafeRawBufferPointer) -> Event {
        do {
            return try step(input)
        } catch {
            state = .failed(error)
            return .error(error)
        }
    }

    private mutating func step(_ input: UnsafeRawBufferPointer) throws(ChunkedBodyError) -> Event {
        let cr = HTTPParseSyntax.cr
        let lf = HTTPParseSyntax.lf
        var i = 0
        while i < input.count {
            let byte = input[i]
            switch state {
            case .size:
                if let digit = hexDigitValue(byte) {
                    // Below 2^59 the next digit keeps the size within 2^63 - 1.
                    guard chunkSize >> 59 == 0 else { throw .chunkSizeOverflow }
                    chunkSize = chunkSize << 4 | UInt64(digit)
                    sizeDigits += 1
                } else {
                    guard sizeDigits > 0 else { throw .invalidChunkSize }
                    state = .afterSize
                    continue
                }
            case .afterSize:
                if byte == UInt8(ascii: ";") {
                    extensionBytes = 0
                    state = .chunkExtension
                } else if byte == cr {
                    state = .sizeLF
                } else if !HTTPParseSyntax.isWhitespace(byte) {
                    throw byte == lf ? .invalidLineEnding : .invalidChunkSize
                }
            case .chunkExtension:
                if byte == cr {
                    state = .sizeLF
                } else {
                    if byte == lf { throw .invalidLineEnding }
                    guard HTTPParseSyntax.isFieldValueByte(byte) else { throw .invalidChunkExtension }
                    extensionBytes += 1
                    if extensionBytes > maxExtensionBytes { throw .chunkExtensionTooLong }
                }
            case .sizeLF:
                guard byte == lf else { throw .invalidLineEnding }
                if chunkSize == 0 {
                    trailerBytes = 0
                    state = .trailerStart
                } else {
                    // bodyBytes and chunkSize are both below 2^63: the sum cannot overflow.
                    guard bodyBytes + chunkSize <= maxBodyBytes else { throw .bodyTooLarge }
                    remaining = chunkSize
                    state = .data
                }
            case .data:
                let take = Int(min(remaining, UInt64(input.count - i)))
                remaining -= UInt64(take)
                bodyBytes += UInt64(take)
                if remaining == 0 { state = .dataCR }
                return .data(i..<i + take)
            case .dataCR:
                guard byte == cr else { throw .missingCRLFAfterData }
                state = .dataLF
            case .dataLF:
                guard byte == lf else { throw .missingCRLFAfterData }
                chunkSize = 0
                sizeDigits = 0
                state = .size
            case .trailerStart:
                if byte == cr {
                    state = .finalLF
                } else {
                    state = .trailer
                    continue
                }
            case .trailer:
                trailerBytes += 1
                if trailerBytes > maxTrailerBytes { throw .trailersTooLarge }
                if byte == cr {
                    state = .trailerLF
                } else if byte == lf {
                    throw .invalidLineEnding
                } else if !HTTPParseSyntax.isFieldValueByte(byte) {
                    throw .invalidTrailer
                }
            case .trailerLF:
                guard byte == lf else { throw .invalidLineEnding }
                trailerBytes += 1
                if trailerBytes > maxTrailerBytes { throw .trailersTooLarge }
                state = .trailerStart
            case .finalLF:
                guard byte == lf else { throw .invalidLineEnding }
                state = .done
                return .end(consumed: i + 1)
            case .done:
                return .end(consumed: 0)
            case .failed(let error):
                throw error
            }
            i += 1
        }
        switch state {
        case .done: return .end(consumed: 0)
        case .failed(let error): throw error
        default: return .needMore
        }
    }
}
