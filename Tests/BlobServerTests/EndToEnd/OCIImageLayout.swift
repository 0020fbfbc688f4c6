import Glibc
import TestSupport

/// A small OCI image layout built offline by `Tests/e2e/make-oci-image.sh` (umoci), with fresh
/// random layers, so no cache can already hold its blobs.
struct OCIImageLayout {
    /// `<dir>/image`: the layout directory (tag v1).
    let path: String
    /// The manifest digest of tag v1, `sha256:<hex>`.
    let manifest: String

    /// The package's root, from this file's path (…/Tests/BlobServerTests/EndToEnd/<file>).
    static var packageRoot: String {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(4)
        return parts.joined(separator: "/")
    }

    /// Builds the image in `directory`. The script needs umoci, skopeo and jq: a missing one is
    /// a failure here (the script would otherwise try to install it).
    static func build(in directory: String) throws -> OCIImageLayout {
        _ = try ExternalTool.require("umoci", package: "umoci")
        _ = try ExternalTool.require("skopeo", package: "skopeo")
        _ = try ExternalTool.require("jq", package: "jq")
        let script = "\(packageRoot)/Tests/e2e/make-oci-image.sh"
        guard access(script, X_OK) == 0 || access(script, R_OK) == 0 else { throw EndToEndFailure("missing \(script)") }
        let run = try ExternalTool.run("/bin/bash", [script, directory], timeoutSeconds: 120).check()
        guard let line = run.output.split(separator: "\n").last(where: { $0.hasPrefix("manifest=sha256:") }) else {
            throw EndToEndFailure("make-oci-image.sh printed no manifest= line:\n\(run.output)")
        }
        return OCIImageLayout(path: "\(directory)/image", manifest: String(line.dropFirst("manifest=".count)))
    }

    /// The blob files of a layout, `sha256/<hex>`, sorted.
    static func blobs(of layout: String) -> [String] {
        Files.regularFiles(below: "\(layout)/blobs")
    }

    /// The bytes of one blob of a layout, by digest.
    static func blob(_ digest: String, in layout: String) -> [UInt8]? {
        Files.read("\(layout)/blobs/\(digest.replacing(":", with: "/"))")
    }

    /// Every `sha256:<64 hex>` in `text`, in order of appearance.
    static func digests(in text: String) -> [String] {
        let bytes = Array(text.utf8)
        let prefix = Array("sha256:".utf8)
        var found: [String] = []
        var index = 0
        while index + prefix.count + 64 <= bytes.count {
            if Array(bytes[index..<index + prefix.count]) == prefix {
                let hex = bytes[(index + prefix.count)..<(index + prefix.count + 64)]
                if hex.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) {
                    found.append("sha256:" + String(decoding: hex, as: UTF8.self))
                    index += prefix.count + 64
                    continue
                }
            }
            index += 1
        }
        return found
    }

    /// The layer digests named by the manifest (every digest in it but the config's, which
    /// comes first in umoci's manifests, is a layer).
    func layerDigests() throws -> [String] {
        guard let text = Files.text("\(path)/blobs/\(manifest.replacing(":", with: "/"))") else {
            throw EndToEndFailure("the layout has no manifest blob \(manifest)")
        }
        guard let layers = text.firstRange(of: "\"layers\"") else { throw EndToEndFailure("manifest without layers: \(text)") }
        return Self.digests(in: String(text[layers.upperBound...]))
    }
}
