import BlobStore
import Glibc
import Testing
@testable import BlobServer

@Suite struct StructuredLogging {
    let noon = timespec(tv_sec: 1_795_435_200, tv_nsec: 123_456_789)

    @Test func aLineIsOneJSONObjectWithTimeLevelMessageAndFieldsInOrder() throws {
        let line = Logger.format(.info, "request", ["method": "GET", "status": 200, "bytes": .uint(4096), "hit": true, "ms": .double(1.5)], time: noon)
        #expect(line == #"{"ts":"2026-11-23T12:00:00.123Z","level":"info","msg":"request","method":"GET","status":200,"bytes":4096,"hit":true,"ms":1.5}"# + "\n")
        #expect(try JSONParser.parse(Array(line.utf8.dropLast())) != .null)
    }

    @Test(arguments: [
        ("a\"b", #""a\"b""#),
        ("back\\slash", #""back\\slash""#),
        ("line\nbreak\r\n", #""line\nbreak\r\n""#),
        ("nul\u{0}bell\u{7}del\u{7F}", #""nul\u0000bell\u0007del\u007f""#),
        ("ünïcödé ✓", #""ünïcödé ✓""#),
        ("sep\u{2028}", #""sep\u2028""#),
    ])
    func clientTextIsEscapedSoItCannotBreakOrForgeALine(text: String, quoted: String) throws {
        var line = ""
        Logger.appendQuoted(text, to: &line)
        #expect(line == quoted)
        #expect(!line.contains("\n"))
        #expect(try JSONParser.parse(Array(line.utf8)) == .string(text))
    }

    @Test func linesBelowTheLevelAreNotWritten() throws {
        var ends: [Int32] = [0, 0]
        try #require(pipe(&ends) == 0)
        defer { close(ends[0]) }
        let logger = Logger(level: .warn, descriptor: ends[1])
        logger.info("quiet")
        logger.debug("quieter")
        logger.warn("loud", ["n": 1])
        logger.error("louder")
        close(ends[1])
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = read(ends[0], &buffer, buffer.count)
        let lines = String(decoding: buffer.prefix(max(0, count)), as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.first?.contains(#""level":"warn","msg":"loud","n":1"#) == true)
        #expect(lines.last?.contains(#""level":"error""#) == true)
    }
}
