import Testing
@testable import BlobServer

@Test func versionIsSemantic() {
    #expect(BlobcacheVersion.string.split(separator: ".").count == 3)
}
