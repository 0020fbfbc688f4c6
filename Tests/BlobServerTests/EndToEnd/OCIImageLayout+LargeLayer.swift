extension OCIImageLayout {
    /// Builds, offline with umoci, `<directory>/large-image` (tag v1): one layer holding
    /// `mebibytes` MiB of fresh random bytes. umoci gzips layers, and random bytes do not
    /// compress, so the layer blob is that size plus a few KiB.
    static func buildWithLargeLayer(in directory: String, mebibytes: Int) throws -> OCIImageLayout {
        _ = try ExternalTool.require("umoci", package: "umoci")
        _ = try ExternalTool.require("jq", package: "jq")
        let image = "\(directory)/large-image"
        let source = "\(directory)/large-source"
        let run = try ExternalTool.shell("""
            set -e
            mkdir \(shellQuoted(source))
            head -c \(mebibytes)M /dev/urandom > \(shellQuoted(source))/large.bin
            umoci init --layout \(shellQuoted(image))
            umoci new --image \(shellQuoted(image)):v1
            umoci insert --image \(shellQuoted(image)):v1 \(shellQuoted(source))/large.bin /data/large.bin
            umoci gc --layout \(shellQuoted(image))
            rm -rf \(shellQuoted(source))
            echo "manifest=$(jq -r '.manifests[] | select(.annotations."org.opencontainers.image.ref.name" == "v1") | .digest' \(shellQuoted(image))/index.json)"
            """).check()
        guard let line = run.output.split(separator: "\n").last(where: { $0.hasPrefix("manifest=sha256:") }) else {
            throw EndToEndFailure("building the large-layer image printed no manifest= line:\n\(run.output)")
        }
        return OCIImageLayout(path: image, manifest: String(line.dropFirst("manifest=".count)))
    }
}
