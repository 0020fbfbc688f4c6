import BlobServer
import BlobStore
import Testing

extension EndToEnd {
    /// Requests whose framing cannot be trusted, over raw sockets against a real `blobcache
    /// serve`: smuggling (Content-Length beside Transfer-Encoding, disagreeing lengths), lengths
    /// and chunk sizes that overflow, oversized lines, headers and header counts, and NUL and
    /// control characters. Each gets the status the parser chose (HTTPParseError.status,
    /// ChunkedBodyError.status) or the registry's, one response only, and the connection closes
    /// without a `Connection: close` from the client; nothing of any body is stored.
    @Suite("EndToEnd: hostile framing", .serialized)
    struct HostileFramingTests {
        static func smuggling(_ digest: Digest) -> [HostileRow] {
            let put = "PUT /blobs/\(digest) HTTP/1.1\r\nHost: x\r\n"
            // A front end that honours Content-Length sees one request; one that honours
            // chunked sees a second GET inside the body. Neither may be served.
            let hidden = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
            return [
                HostileRow("Content-Length and Transfer-Encoding", put + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                           HTTPParseError.contentLengthWithTransferEncoding.status),
                HostileRow("Transfer-Encoding and Content-Length", put + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
                           HTTPParseError.contentLengthWithTransferEncoding.status),
                HostileRow("Content-Length and Transfer-Encoding hiding a second request",
                           "POST /v2/test/blobs/uploads/ HTTP/1.1\r\nHost: x\r\nContent-Length: \(5 + hidden.utf8.count)\r\n"
                               + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + hidden,
                           HTTPParseError.contentLengthWithTransferEncoding.status),
                HostileRow("Content-Length and Transfer-Encoding: identity", put + "Content-Length: 5\r\nTransfer-Encoding: identity\r\n\r\nhello",
                           HTTPParseError.contentLengthWithTransferEncoding.status),
                HostileRow("two different Content-Lengths", put + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
                           HTTPParseError.conflictingContentLength.status),
                HostileRow("a Content-Length list that disagrees", put + "Content-Length: 5, 6\r\n\r\nhello!",
                           HTTPParseError.conflictingContentLength.status),
                HostileRow("Transfer-Encoding: gzip, chunked", put + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
                           HTTPParseError.unsupportedTransferCoding.status),
                HostileRow("an unknown coding before chunked", put + "Transfer-Encoding: x-evil, chunked\r\n\r\n0\r\n\r\n",
                           HTTPParseError.unsupportedTransferCoding.status),
                HostileRow("a final coding that is not chunked", put + "Transfer-Encoding: gzip\r\n\r\n",
                           HTTPParseError.invalidTransferEncoding.status),
                HostileRow("Transfer-Encoding: xchunked", put + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
                           HTTPParseError.invalidTransferEncoding.status),
                HostileRow("chunked twice in one field", put + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
                           HTTPParseError.invalidTransferEncoding.status),
                HostileRow("chunked in two fields", put + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                           HTTPParseError.invalidTransferEncoding.status),
                HostileRow("Transfer-Encoding on HTTP/1.0", "PUT /blobs/\(digest) HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                           HTTPParseError.invalidTransferEncoding.status),
                HostileRow("an obs-fold header", put + "X-Folded: a\r\n b\r\n\r\n", HTTPParseError.obsoleteLineFolding.status),
                HostileRow("whitespace before a header colon", put + "Content-Length : 0\r\n\r\n", HTTPParseError.whitespaceBeforeColon.status),
                HostileRow("a request line ending in a bare LF", "GET /blobs/\(digest) HTTP/1.1\nHost: x\r\n\r\n", HTTPParseError.bareLineFeed.status),
                HostileRow("a header line ending in a bare LF", put + "X-A: b\n\r\n", HTTPParseError.bareLineFeed.status),
                HostileRow("HTTP/1.1 without Host", "GET /blobs/\(digest) HTTP/1.1\r\n\r\n", HTTPParseError.missingHost.status),
                HostileRow("two Host fields", put + "Host: y\r\n\r\n", HTTPParseError.duplicateHost.status),
                HostileRow("a Host with a space", "GET /blobs/\(digest) HTTP/1.1\r\nHost: a b\r\n\r\n", HTTPParseError.invalidHost.status),
                HostileRow("a Host with a path", "GET /blobs/\(digest) HTTP/1.1\r\nHost: a/../b\r\n\r\n", HTTPParseError.invalidHost.status),
                HostileRow("a Host with userinfo", "GET /blobs/\(digest) HTTP/1.1\r\nHost: evil@a\r\n\r\n", HTTPParseError.invalidHost.status),
            ]
        }

        static func overflowingLengths(_ digest: Digest) -> [HostileRow] {
            let put = "PUT /blobs/\(digest) HTTP/1.1\r\nHost: x\r\n"
            let chunked = put + "Transfer-Encoding: chunked\r\n\r\n"
            return [
                HostileRow("Content-Length with a leading +", put + "Content-Length: +5\r\n\r\nhello", HTTPParseError.invalidContentLength.status),
                HostileRow("Content-Length with a space inside", put + "Content-Length: 1 0\r\n\r\nhelloworld", HTTPParseError.invalidContentLength.status),
                HostileRow("a negative Content-Length", put + "Content-Length: -1\r\n\r\n", HTTPParseError.invalidContentLength.status),
                HostileRow("a hexadecimal Content-Length", put + "Content-Length: 0x10\r\n\r\n", HTTPParseError.invalidContentLength.status),
                HostileRow("a Content-Length past 64 bits", put + "Content-Length: 99999999999999999999999\r\n\r\n",
                           HTTPParseError.invalidContentLength.status),
                HostileRow("a Content-Length of 2^64 - 1", put + "Content-Length: \(UInt64.max)\r\n\r\nabc", 413, code: "SIZE_INVALID"),
                HostileRow("a Content-Length of 2^63 on a monolithic upload",
                           "POST /v2/a/blobs/uploads/?digest=\(digest) HTTP/1.1\r\nHost: x\r\nContent-Length: \(UInt64(1) << 63)\r\n\r\nabc",
                           413, code: "SIZE_INVALID"),
                HostileRow("a chunk size past 64 bits", chunked + "ffffffffffffffffff\r\n", ChunkedBodyError.chunkSizeOverflow.status),
                HostileRow("a chunk size of 2^63", chunked + "8000000000000000\r\n", ChunkedBodyError.chunkSizeOverflow.status),
                HostileRow("a chunk size of 2^63 - 1, past the body limit", chunked + "7fffffffffffffff\r\nabc", ChunkedBodyError.bodyTooLarge.status),
                // Leading zeros are no overflow: the one byte arrives, and does not hash to the
                // digest. The framing holds, so only the client's close ends the connection.
                HostileRow("a chunk size with a thousand leading zeros",
                           put + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + String(repeating: "0", count: 1000) + "1\r\na\r\n0\r\n\r\n",
                           400, code: "DIGEST_INVALID"),
                HostileRow("a chunk size that is not hexadecimal", chunked + "zz\r\nhello\r\n0\r\n\r\n", ChunkedBodyError.invalidChunkSize.status),
                HostileRow("chunk data not followed by CRLF", chunked + "5\r\nhelloXX0\r\n\r\n", ChunkedBodyError.missingCRLFAfterData.status),
                HostileRow("a chunk extension of 100 KiB", chunked + "1;" + String(repeating: "e", count: 100 << 10) + "\r\na\r\n0\r\n\r\n",
                           ChunkedBodyError.chunkExtensionTooLong.status),
                HostileRow("ten thousand trailer fields", chunked + "1\r\na\r\n0\r\n" + (0..<10_000).map { "X-T\($0): v\r\n" }.joined() + "\r\n",
                           ChunkedBodyError.trailersTooLarge.status),
            ]
        }

        static func oversized(_ digest: Digest) -> [HostileRow] {
            let get = "GET /blobs/\(digest) HTTP/1.1\r\nHost: x\r\n"
            return [
                HostileRow("a request line over 8 KiB",
                           "GET /v2/" + String(repeating: "a", count: HTTPRequestParser.maxRequestLineBytes + 100) + " HTTP/1.1\r\nHost: x\r\n\r\n",
                           HTTPParseError.requestLineTooLong.status),
                HostileRow("an absolute-form target over 8 KiB",
                           "GET http://x/" + String(repeating: "a", count: HTTPRequestParser.maxRequestLineBytes) + " HTTP/1.1\r\nHost: x\r\n\r\n",
                           HTTPParseError.requestLineTooLong.status),
                HostileRow("ten thousand empty lines before the request line",
                           String(repeating: "\r\n", count: 10_000) + get + "\r\n", HTTPParseError.requestLineTooLong.status),
                HostileRow("a header section over 64 KiB",
                           get + (0..<70).map { "X-Filler-\($0): " + String(repeating: "f", count: 1000) + "\r\n" }.joined() + "\r\n",
                           HTTPParseError.headerSectionTooLarge.status),
                HostileRow("a single header value over 64 KiB",
                           get + "X-Huge: " + String(repeating: "h", count: HTTPRequestParser.maxHeaderSectionBytes + 10) + "\r\n\r\n",
                           HTTPParseError.headerSectionTooLarge.status),
                HostileRow("a header name over 64 KiB",
                           get + "X-" + String(repeating: "n", count: HTTPRequestParser.maxHeaderSectionBytes + 10) + ": v\r\n\r\n",
                           HTTPParseError.headerSectionTooLarge.status),
                HostileRow("more than 100 header fields",
                           get + (0...HTTPRequestParser.maxHeaderCount).map { "X-N\($0): v\r\n" }.joined() + "\r\n",
                           HTTPParseError.tooManyHeaders.status),
                HostileRow("ten thousand empty header fields", get + String(repeating: "X-E:\r\n", count: 10_000) + "\r\n",
                           HTTPParseError.tooManyHeaders.status),
            ]
        }

        static func nulAndControlCharacters(_ digest: Digest) -> [HostileRow] {
            let get = "GET /blobs/\(digest) HTTP/1.1\r\nHost: x\r\n"
            return [
                HostileRow("a NUL in a header value", get + "X-A: a\u{0}b\r\n\r\n", HTTPParseError.nulCharacter.status),
                HostileRow("a NUL in a header name", get + "X-A\u{0}: b\r\n\r\n", HTTPParseError.nulCharacter.status),
                HostileRow("a NUL in Transfer-Encoding",
                           "PUT /blobs/\(digest) HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\u{0}\r\n\r\n0\r\n\r\n",
                           HTTPParseError.nulCharacter.status),
                HostileRow("a NUL in the target", "GET /blobs/\u{0}\(digest) HTTP/1.1\r\nHost: x\r\n\r\n", HTTPParseError.nulCharacter.status),
                HostileRow("a NUL in the method", "G\u{0}ET /blobs/\(digest) HTTP/1.1\r\nHost: x\r\n\r\n", HTTPParseError.nulCharacter.status),
                HostileRow("a bare CR in a header value", get + "X-A: a\rb\r\n\r\n", HTTPParseError.bareCarriageReturn.status),
                HostileRow("an escape character in a header value", get + "X-A: a\u{1B}[2Jb\r\n\r\n", HTTPParseError.invalidHeaderValue.status),
                HostileRow("a DEL in a header value", get + "X-A: a\u{7F}b\r\n\r\n", HTTPParseError.invalidHeaderValue.status),
                HostileRow("a control character in the target", "GET /blobs/\u{1}\(digest) HTTP/1.1\r\nHost: x\r\n\r\n",
                           HTTPParseError.invalidTarget.status),
                HostileRow("a tab in the target", "GET /blobs/\t\(digest) HTTP/1.1\r\nHost: x\r\n\r\n", HTTPParseError.invalidTarget.status),
                HostileRow("bytes past ASCII in the target",
                           bytes: Array("GET /blobs/".utf8) + [0xFF, 0xFE, 0xC0, 0xAF] + Array(" HTTP/1.1\r\nHost: x\r\n\r\n".utf8),
                           HTTPParseError.invalidTarget.status),
                HostileRow("a space in a header name", get + "X A: b\r\n\r\n", HTTPParseError.invalidHeaderName.status),
                HostileRow("a parenthesis in a header name", get + "X(A): b\r\n\r\n", HTTPParseError.invalidHeaderName.status),
                HostileRow("an empty header name", get + ": b\r\n\r\n", HTTPParseError.invalidHeaderName.status),
                HostileRow("a header line without a colon", get + "NoColonHere\r\n\r\n", HTTPParseError.missingColon.status),
            ]
        }

        enum Group: String, CaseIterable, CustomStringConvertible {
            case smuggling, overflowingLengths, oversized, nulAndControlCharacters

            func rows(_ digest: Digest) -> [HostileRow] {
                switch self {
                case .smuggling: HostileFramingTests.smuggling(digest)
                case .overflowingLengths: HostileFramingTests.overflowingLengths(digest)
                case .oversized: HostileFramingTests.oversized(digest)
                case .nulAndControlCharacters: HostileFramingTests.nulAndControlCharacters(digest)
                }
            }

            var description: String { rawValue }
        }

        @Test(arguments: Group.allCases)
        func eachRowGetsItsStatusAloneAndTheConnectionCloses(_ group: Group) throws {
            let fixture = try HostileServer()
            for row in group.rows(fixture.digest) { fixture.expectAnswered(row) }
            fixture.expectNothingTouchedOutsideTheStore()
        }
    }
}
