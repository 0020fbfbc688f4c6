import Glibc

/// A fresh directory under /tmp for one test, removed (with everything in it) at the end.
public final class StoreTestDirectory {
    public let path: String

    public init(_ label: String = "store") {
        var template = Array("/tmp/blobcache-test-\(label)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    deinit { StoreTestDirectory.removeTree(path) }

    /// The data directory inside it.
    public var data: String { "\(path)/data" }

    /// `name` inside the directory.
    public func file(_ name: String) -> String { path + "/" + name }

    /// Removes `path` and everything below it (like `rm -rf`), without following links.
    public static func removeTree(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if info.st_mode & S_IFMT == S_IFDIR {
            for name in directoryEntries(path) { removeTree("\(path)/\(name)") }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}

/// Names of the entries in a directory (not recursive).
public func directoryEntries(_ path: String) -> [String] {
    guard let stream = opendir(path) else { return [] }
    defer { closedir(stream) }
    var names: [String] = []
    while let entry = readdir(stream) {
        let name = withUnsafePointer(to: &entry.pointee.d_name) {
            $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}
