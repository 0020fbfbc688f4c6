import CBlobSys
import Glibc
import Testing

@testable import BlobStore

/// Moves `descriptor` to a number at or above `floor`. Descriptors are handed out lowest
/// first, so no test running in parallel gets a number this high in the meantime: a check
/// on it after closing sees this descriptor's fate, not another test's file.
private func movedHigh(_ descriptor: consuming FileDescriptor, floor: Int32) throws -> FileDescriptor {
    let raw = descriptor.rawValue
    let high = try syscall("fcntl") { fcntl(raw, F_DUPFD_CLOEXEC, floor) }
    return FileDescriptor(owning: high)
}

/// A floor well under the soft descriptor limit and above what tests hold open.
private func highFloor(below offset: Int32) -> Int32 {
    Int32(min(sysconf(Int32(_SC_OPEN_MAX)), 4096)) - offset
}

/// `fcntl(F_GETFD)` on `raw`: the flags, or the errno when it fails.
private func descriptorFlags(_ raw: Int32) -> Result<Int32, SystemError> {
    let flags = fcntl(raw, F_GETFD)
    return flags == -1 ? .failure(SystemError(call: "fcntl", errno: cbs_errno())) : .success(flags)
}

private func randomBytes(_ count: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
}

@Suite("FileDescriptor")
struct FileDescriptorTests {
    @Test func openingAMissingFileThrowsOpenatWithThePathAndENOENT() throws {
        let directory = StoreTestDirectory("fd")
        let path = directory.file("missing")
        let error = #expect(throws: SystemError.self) { _ = try FileDescriptor.open(path, flags: O_RDONLY) }
        #expect(error == SystemError(call: "openat", path: path, errno: ENOENT))
        #expect(error?.description == "openat \(path): No such file or directory")
        #expect(error?.isOutOfSpace == false)
    }

    @Test func openingAPathWithANULByteThrowsEINVALInsteadOfOpeningItsPrefix() throws {
        let directory = StoreTestDirectory("fd")
        _ = try FileDescriptor.open(directory.file("blob"), flags: O_CREAT | O_WRONLY)
        let path = directory.file("blob\0.tmp")
        #expect(throws: SystemError(call: "openat", path: path, errno: EINVAL)) {
            _ = try FileDescriptor.open(path, flags: O_RDONLY)
        }
    }

    @Test func openedDescriptorsAreCloseOnExec() throws {
        let directory = StoreTestDirectory("fd")
        let file = try FileDescriptor.open(directory.file("blob"), flags: O_CREAT | O_RDWR)
        #expect(try descriptorFlags(file.rawValue).get() & FD_CLOEXEC != 0)
    }

    @Test func openResolvesRelativePathsInTheGivenDirectory() throws {
        let directory = StoreTestDirectory("fd")
        let base = try FileDescriptor.openDirectory(directory.path)
        let created = try FileDescriptor.open("blob", in: base.rawValue, flags: O_CREAT | O_EXCL | O_WRONLY)
        try ([1, 2, 3] as [UInt8]).withUnsafeBytes { try created.writeAll($0) }
        let reopened = try FileDescriptor.open(directory.file("blob"), flags: O_RDONLY)
        #expect(try reopened.size() == 3)
        #expect(throws: SystemError(call: "openat", path: "blob", errno: EEXIST)) {
            _ = try FileDescriptor.open("blob", in: base.rawValue, flags: O_CREAT | O_EXCL | O_WRONLY)
        }
    }

    @Test func cachedPagesCountTheFilesPagesInThePageCache() throws {
        let directory = StoreTestDirectory("fd")
        let file = try FileDescriptor.open(directory.file("blob"), flags: O_CREAT | O_RDWR)
        try randomBytes(64 * 4096).withUnsafeBytes { try file.writeAll($0) }
        try file.sync()
        file.dropCachedPages()
        #expect(cbs_cached_pages(file.rawValue, 64 * 4096) == 0)
        var buffer = [UInt8](repeating: 0, count: 64 * 4096)
        #expect(try buffer.withUnsafeMutableBytes { try file.read(into: $0, at: 0) } == 64 * 4096)
        #expect(cbs_cached_pages(file.rawValue, 64 * 4096) == 64)
        #expect(cbs_resident_pages(file.rawValue, 64 * 4096) == 64)
    }

    @Test func openingAFileAsADirectoryThrowsENOTDIR() throws {
        let directory = StoreTestDirectory("fd")
        _ = try FileDescriptor.open(directory.file("blob"), flags: O_CREAT | O_WRONLY)
        #expect(throws: SystemError(call: "openat", path: directory.file("blob"), errno: ENOTDIR)) {
            _ = try FileDescriptor.openDirectory(directory.file("blob"))
        }
    }

    @Test func writeAllAndReadAtOffsetsRoundTrip() throws {
        let directory = StoreTestDirectory("fd")
        let file = try FileDescriptor.open(directory.file("blob"), flags: O_CREAT | O_RDWR)
        #expect(try file.size() == 0)

        let body = randomBytes(100_000)
        try body.withUnsafeBytes { try file.writeAll($0, at: 0) }
        try Array("tail".utf8).withUnsafeBytes { try file.writeAll($0, at: 200_000) }
        #expect(try file.size() == 200_004)

        var buffer = [UInt8](repeating: 0, count: 4096)
        for offset in [0, 1, 4095, 50_000, 100_000 - 4096] {
            let got = try buffer.withUnsafeMutableBytes { try file.read(into: $0, at: UInt64(offset)) }
            #expect(got == 4096)
            #expect(buffer == Array(body[offset..<offset + 4096]))
        }
        // A short read at the end of the written part, then the hole reads as zeros.
        let straddling = try buffer.withUnsafeMutableBytes { try file.read(into: $0, at: 100_000 - 10) }
        #expect(straddling == 4096)
        #expect(buffer.prefix(10) == body.suffix(10))
        #expect(buffer.dropFirst(10).allSatisfy { $0 == 0 })

        let tail = try buffer.withUnsafeMutableBytes { try file.read(into: $0, at: 200_000) }
        #expect(tail == 4)
        #expect(buffer.prefix(4).elementsEqual("tail".utf8))
        #expect(try buffer.withUnsafeMutableBytes { try file.read(into: $0, at: 200_004) } == 0)
        #expect(try buffer.withUnsafeMutableBytes { try file.read(into: $0, at: 1 << 40) } == 0)
    }

    @Test func writeAllAndReadAtTheCurrentPositionRoundTrip() throws {
        let directory = StoreTestDirectory("fd")
        let file = try FileDescriptor.open(directory.file("blob"), flags: O_CREAT | O_RDWR | O_APPEND)
        let first = randomBytes(70_000)
        let second = randomBytes(3)
        try first.withUnsafeBytes { try file.writeAll($0) }
        try second.withUnsafeBytes { try file.writeAll($0) }
        try [UInt8]().withUnsafeBytes { try file.writeAll($0) }
        #expect(try file.size() == 70_003)

        #expect(lseek(file.rawValue, 0, SEEK_SET) == 0)
        var readBack: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 8191)
        while true {
            let got = try buffer.withUnsafeMutableBytes { try file.read(into: $0) }
            if got == 0 { break }
            readBack += buffer.prefix(got)
        }
        #expect(readBack == first + second)
    }

    @Test func failedCallsNameThePathTheCallerGave() throws {
        let directory = StoreTestDirectory("fd")
        let readOnly = try FileDescriptor.open(directory.file("blob"), flags: O_CREAT | O_RDONLY)
        #expect(throws: SystemError(call: "pwrite", path: "blob", errno: EBADF)) {
            try [1].withUnsafeBytes { try readOnly.writeAll($0, at: 0, path: "blob") }
        }
        #expect(throws: SystemError(call: "write", path: "", errno: EBADF)) {
            try [1].withUnsafeBytes { try readOnly.writeAll($0) }
        }
        let base = try FileDescriptor.openDirectory(directory.path)
        var buffer = [UInt8](repeating: 0, count: 16)
        #expect(throws: SystemError(call: "pread", path: "dir", errno: EISDIR)) {
            _ = try buffer.withUnsafeMutableBytes { try base.read(into: $0, at: 0, path: "dir") }
        }
    }

    @Test func duplicateGivesAnIndependentDescriptorThatOutlivesTheOriginal() throws {
        let directory = StoreTestDirectory("fd")
        let original = try FileDescriptor.open(directory.file("blob"), flags: O_CREAT | O_RDWR)
        try Array("content".utf8).withUnsafeBytes { try original.writeAll($0, at: 0) }
        let copy = try original.duplicate()
        #expect(copy.rawValue != original.rawValue)
        _ = consume original

        #expect(try descriptorFlags(copy.rawValue).get() & FD_CLOEXEC != 0)
        #expect(try copy.size() == 7)
        var buffer = [UInt8](repeating: 0, count: 7)
        #expect(try buffer.withUnsafeMutableBytes { try copy.read(into: $0, at: 0) } == 7)
        #expect(buffer.elementsEqual("content".utf8))
    }

    @Test func takeHandsTheRawDescriptorOutWithoutClosingIt() throws {
        let directory = StoreTestDirectory("fd")
        let opened = try FileDescriptor.open(directory.file("blob"), flags: O_CREAT | O_RDWR)
        let descriptor = try movedHigh(opened, floor: highFloor(below: 128))
        let raw = descriptor.take()
        #expect(try descriptorFlags(raw).get() & FD_CLOEXEC != 0)
        #expect(Glibc.close(raw) == 0)
    }

    @Test func destroyingAFileDescriptorClosesIt() throws {
        let directory = StoreTestDirectory("fd")
        let opened = try FileDescriptor.open(directory.file("blob"), flags: O_CREAT | O_RDWR)
        let descriptor = try movedHigh(opened, floor: highFloor(below: 64))
        let raw = descriptor.rawValue
        #expect(raw >= highFloor(below: 64))
        #expect(try descriptorFlags(raw).get() & FD_CLOEXEC != 0)
        _ = consume descriptor
        // Checked at once, on a number no parallel test is handed (see `movedHigh`).
        #expect(throws: SystemError(call: "fcntl", errno: EBADF)) { try descriptorFlags(raw).get() }
    }

    @Test func syncAndDropCachedPagesSucceedOnARegularFile() throws {
        let directory = StoreTestDirectory("fd")
        let file = try FileDescriptor.open(directory.file("blob"), flags: O_CREAT | O_RDWR)
        try randomBytes(10_000).withUnsafeBytes { try file.writeAll($0, at: 0) }
        try file.sync()
        file.dropCachedPages()
        file.dropCachedPages(offset: 4096, length: 4096)
        #expect(try file.size() == 10_000)
    }
}

@Suite("syscall and SystemError")
struct SyscallTests {
    @Test func syscallRetriesACallInterruptedByEINTR() throws {
        var calls = 0
        let result = try syscall("read", path: "blob") { () -> Int in
            calls += 1
            if calls < 3 {
                errno = EINTR
                return -1
            }
            return 42
        }
        #expect(result == 42)
        #expect(calls == 3)
    }

    @Test func syscallThrowsOtherErrorsWithTheCallAndPathWithoutRetrying() {
        var calls = 0
        #expect(throws: SystemError(call: "renameat2", path: "blobs/ab", errno: EACCES)) {
            try syscall("renameat2", path: "blobs/ab") { () -> Int32 in
                calls += 1
                errno = EACCES
                return -1
            }
        }
        #expect(calls == 1)
    }

    @Test func syscallReturnsNonNegativeResultsAndIgnoresAStaleErrno() throws {
        errno = EIO
        #expect(try syscall("lseek") { Int64(0) } == 0)
        #expect(try syscall("read") { Int(-2) } == -2)
    }

    @Test func syscallBuildsThePathOnlyWhenTheCallFails() throws {
        var built = 0
        func path() -> String {
            built += 1
            return "blob"
        }
        try syscall("fsync", path: path()) { Int32(0) }
        #expect(built == 0)
        #expect(throws: SystemError(call: "fsync", path: "blob", errno: EIO)) {
            try syscall("fsync", path: path()) { () -> Int32 in
                errno = EIO
                return -1
            }
        }
        #expect(built == 1)
    }

    @Test func syscallReturningErrorRetriesEINTRAndThrowsTheReturnedCode() throws {
        var codes: [Int32] = [EINTR, EINTR, 0]
        try syscallReturningError("posix_fallocate", path: "blob") { codes.removeFirst() }
        #expect(codes.isEmpty)

        codes = [EINTR, ENOSPC, 0]
        let error = #expect(throws: SystemError.self) {
            try syscallReturningError("posix_fallocate", path: "blob") { codes.removeFirst() }
        }
        #expect(error == SystemError(call: "posix_fallocate", path: "blob", errno: ENOSPC))
        #expect(error?.isOutOfSpace == true)
        #expect(codes == [0])
    }

    @Test(arguments: [(ENOSPC, true), (EDQUOT, true), (EIO, false), (ENOENT, false), (EACCES, false), (EFBIG, false),
                      (EROFS, false)])
    func outOfSpaceMeansENOSPCOrEDQUOT(_ code: Int32, _ outOfSpace: Bool) {
        #expect(SystemError(call: "write", path: "blob", errno: code).isOutOfSpace == outOfSpace)
    }

    @Test func descriptionNamesTheCallThePathAndTheReason() {
        #expect(SystemError(call: "fsync", errno: EIO).description == "fsync: Input/output error")
        #expect(SystemError(call: "pwrite", path: "tmp/upload-1", errno: ENOSPC).description
            == "pwrite tmp/upload-1: No space left on device")
    }
}
