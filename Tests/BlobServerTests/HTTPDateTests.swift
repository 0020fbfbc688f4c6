import Glibc
import Testing
@testable import BlobServer

@Suite struct HTTPDateFormatting {
    @Test(arguments: [
        (time_t(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT"),
        (time_t(0), "Thu, 01 Jan 1970 00:00:00 GMT"),
        (time_t(1_795_435_200), "Mon, 23 Nov 2026 12:00:00 GMT"),
        (time_t(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT"),
    ])
    func datesAreIMFFixdate(seconds: time_t, text: String) {
        #expect(HTTPDate.format(seconds) == text)
        #expect(text.utf8.count == 29)
    }

    @Test func theCacheChangesOnlyWhenTheSecondDoes() {
        var date = HTTPDate()
        let first = date.bytes(now: 784_111_777)
        #expect(date.bytes(now: 784_111_777) == first)
        #expect(String(decoding: date.bytes(now: 784_111_778), as: UTF8.self) == "Sun, 06 Nov 1994 08:49:38 GMT")
    }
}
