import BlobStore
import CBlobSys
import Glibc

/// Seeds a store from an OCI image layout directory (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`),
/// as `umoci`, `skopeo copy … oci:DIR` and `docker buildx --output type=oci` write it.
///
/// Every blob streams through a verifying writer with its digest and size known up front, so
/// a corrupt layout file is refused and reported, never stored. Blobs the store already has are
/// skipped. Blocking: run it on its own thread.
public enum OCILayoutImport {
    /// Why a layout cannot be imported at all.
    public struct LayoutError: Error, Equatable, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "\(path): \(reason)" }
    }

    public struct Report: Sendable, Equatable {
        public var imported = 0
        public var alreadyPresent = 0
        public var bytesImported: UInt64 = 0
        /// Layout files that were refused: bad names or content that does not match its digest.
        public var failed: [(path: String, reason: String)] = []

        public static func == (lhs: Report, rhs: Report) -> Bool {
            lhs.imported == rhs.imported && lhs.alreadyPresent == rhs.alreadyPresent && lhs.bytesImported == rhs.bytesImported
                && lhs.failed.map(\.path) == rhs.failed.map(\.path)
        }
    }

    /// Progress after each blob: blobs handled so far and bytes imported.
    public typealias Progress = (_ blobsDone: Int, _ blobsTotal: Int, _ bytes: UInt64) -> Void

    public static func run(layout: String, into store: BlobStore, progress: Progress? = nil) throws(LayoutError) -> Report {
        try checkMarker(layout)
        var files: [(path: String, digest: Digest?)] = []
        for algorithm in DigestAlgorithm.allCases {
            let directory = "\(layout)/blobs/\(algorithm)"
            guard let names = listDirectory(directory) else { continue }
            for name in names.sorted() {
                files.append(("\(directory)/\(name)", try? Digest(parsing: "\(algorithm):\(name)")))
            }
        }
        var report = Report()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { buffer.deallocate() }
        for (index, file) in files.enumerated() {
            defer { progress?(index + 1, files.count, report.bytesImported) }
            guard let digest = file.digest else {
                report.failed.append((file.path, "the name is not a canonical digest"))
                continue
            }
            if store.contains(digest) {
                report.alreadyPresent += 1
                continue
            }
            do {
                report.bytesImported += try importBlob(at: file.path, as: digest, into: store, buffer: buffer)
                report.imported += 1
            } catch {
                report.failed.append((file.path, "\(error)"))
            }
        }
        return report
    }

    private static func importBlob(
        at path: String, as digest: Digest, into store: BlobStore, buffer: UnsafeMutableRawBufferPointer
    ) throws -> UInt64 {
        let source = try FileDescriptor.open(path, flags: O_RDONLY | cbs_O_NOFOLLOW)
        let size = try source.size(path: path)
        let writer = try store.makeWriter(expected: digest, expectedSize: size)
        var offset: UInt64 = 0
        while offset < size {
            let count = try source.read(into: buffer, at: offset, path: path)
            if count == 0 { break }
            try writer.write(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            offset += UInt64(count)
        }
        source.dropCachedPages()
        try writer.commit()
        return size
    }

    /// A layout has an `oci-layout` file naming its version.
    private static func checkMarker(_ layout: String) throws(LayoutError) {
        let marker = "\(layout)/oci-layout"
        let bytes: [UInt8]
        do { bytes = try ConfigurationLoader.readWholeFile(marker) } catch {
            throw LayoutError(path: layout, reason: "not an OCI image layout (no readable oci-layout file)")
        }
        guard case .object(let members)? = try? JSONParser.parse(bytes),
              case .string(let version)? = members.first(where: { $0.key == "imageLayoutVersion" })?.value,
              version.hasPrefix("1.") else {
            throw LayoutError(path: marker, reason: "expected {\"imageLayoutVersion\": \"1.0.0\"}")
        }
    }

    /// The entries of a directory, or nil when it cannot be read.
    private static func listDirectory(_ path: String) -> [String]? {
        var names: [String] = []
        do {
            try DirectoryListing.forEachEntry(in: path, relativeTo: AT_FDCWD) { name, _ in names.append(String(cString: name)) }
        } catch {
            return nil
        }
        return names
    }
}
