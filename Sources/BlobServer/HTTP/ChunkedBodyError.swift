/// Why a chunked request body was rejected. Like a head error, it ends the connection:
/// the end of the body, and so the start of the next request, is unknown.
public enum ChunkedBodyError: Error, Hashable, Sendable {
    /// A chunk size that is empty or not hexadecimal.
    case invalidChunkSize
    /// A chunk size over 2^63 - 1.
    case chunkSizeOverflow
    /// Chunk data not followed by CRLF.
    case missingCRLFAfterData
    /// A chunk extension longer than the decoder's limit.
    case chunkExtensionTooLong
    /// A control character other than HTAB in a chunk extension.
    case invalidChunkExtension
    /// Trailer fields longer than the decoder's limit.
    case trailersTooLarge
    /// A control character other than HTAB in a trailer field.
    case invalidTrailer
    /// A line ending in LF without CR, or a CR without LF.
    case invalidLineEnding
    /// The body is longer than the caller's maximum.
    case bodyTooLarge

    /// 413 for `bodyTooLarge`, 400 for everything else.
    public var status: Int {
        switch self {
        case .bodyTooLarge: 413
        case .invalidChunkSize, .chunkSizeOverflow, .missingCRLFAfterData, .chunkExtensionTooLong,
            .invalidChunkExtension, .trailersTooLarge, .invalidTrailer, .invalidLineEnding:
            400
        }
    }
}
