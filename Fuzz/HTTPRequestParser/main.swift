// libFuzzer target for the request codec: a connection's byte stream (heads, bodies framed
// by Content-Length or chunked, pipelined requests) fed whole, one byte at a time and in
// strides must give the same log, and no result may claim bytes it was not given.
// Built by Fuzz/build.sh.
@testable import BlobServer

/// What a connection sees: heads, whole bodies, errors, and how much was left over.
enum ConnectionEvent: Equatable {
    case head(HTTPRequestHead, consumed: Int)
    case headError(HTTPParseError)
    case body([UInt8])
    case bodyError(ChunkedBodyError)
    case leftOver(Int)
}

enum Reading {
    case head
    case length(remaining: UInt64, body: [UInt8])
    case chunked(ChunkedBodyDecoder, body: [UInt8])
}

/// Plays the connection's loop over `input`, cut into pieces ending at each of `ends`.
func connectionLog(_ input: UnsafeRawBufferPointer, piecesEndingAt ends: some Sequence<Int>) -> [ConnectionEvent] {
    var parser = HTTPRequestParser()
    var reading = Reading.head
    var log: [ConnectionEvent] = []
    var start = 0
    for end in ends {
        pieces: while true {
            let piece = UnsafeRawBufferPointer(rebasing: input[start..<end])
            switch reading {
            case .head:
                switch parser.parseHead(piece) {
                case .needMore:
                    break pieces
                case .complete(let head, let consumed):
                    precondition(consumed > 0 && consumed <= piece.count, "a head claimed bytes it was not given")
                    log.append(.head(head, consumed: consumed))
                    start += consumed
                    switch head.body {
                    case .none: reading = .head
                    case .contentLength(let length): reading = .length(remaining: length, body: [])
                    case .chunked: reading = .chunked(ChunkedBodyDecoder(maxBodyBytes: 1 << 20), body: [])
                    }
                case .error(let error):
                    log.append(.headError(error))
                    return log
                }
            case .length(let remaining, var body):
                let take = Int(min(remaining, UInt64(piece.count)))
                body += piece[0..<take]
                start += take
                if remaining == UInt64(take) {
                    log.append(.body(body))
                    reading = .head
                } else {
                    reading = .length(remaining: remaining - UInt64(take), body: body)
                    break pieces
                }
            case .chunked(var decoder, var body):
                let event = decoder.decode(piece)
                switch event {
                case .data(let range):
                    precondition(!range.isEmpty && range.upperBound <= piece.count, "data outside the input")
                    body += piece[range]
                    start += range.upperBound
                    reading = .chunked(decoder, body: body)
                case .needMore:
                    start = end
                    reading = .chunked(decoder, body: body)
                    break pieces
                case .end(let consumed):
                    precondition(consumed <= piece.count, "a body claimed bytes it was not given")
                    precondition(decoder.bodyBytes == UInt64(body.count), "body bytes miscounted")
                    start += consumed
                    log.append(.body(body))
                    reading = .head
                case .error(let error):
                    log.append(.bodyError(error))
                    return log
                }
            }
        }
    }
    log.append(.leftOver(input.count - start))
    return log
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let whole = connectionLog(input, piecesEndingAt: [size])
    let bytewise = connectionLog(input, piecesEndingAt: 0...size)
    precondition(whole == bytewise, "byte-at-a-time parse differs:\n\(whole)\n\(bytewise)")
    let stride = size == 0 ? 1 : Int(data[0] % 13) + 2
    let strided = connectionLog(input, piecesEndingAt: Array(Swift.stride(from: stride, to: size, by: stride)) + [size])
    precondition(whole == strided, "parse in strides of \(stride) differs:\n\(whole)\n\(strided)")
    return 0
}
