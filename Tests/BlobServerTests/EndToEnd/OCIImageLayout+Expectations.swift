import Testing

extension OCIImageLayout {
    /// The digests of the image's blobs other than its manifest (the config and the layers):
    /// what a registry serves under `/v2/<name>/blobs/`.
    var blobDigests: [String] {
        Self.blobs(of: path).map { $0.replacing("/", with: ":") }.filter { $0 != manifest }
    }

    /// Expects the layout at `pulled` to hold exactly this image's blobs, byte for byte, and to
    /// tag its manifest.
    func expectSameBlobs(in pulled: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let expected = Self.blobs(of: path)
        #expect(Self.blobs(of: pulled) == expected, "the pulled layout holds other blobs", sourceLocation: sourceLocation)
        for blob in expected {
            #expect(Files.read("\(pulled)/blobs/\(blob)") == Files.read("\(path)/blobs/\(blob)"), "\(blob) differs", sourceLocation: sourceLocation)
        }
        let index = Files.text("\(pulled)/index.json") ?? ""
        #expect(Self.digests(in: index) == [manifest], "pulled index.json: \(index)", sourceLocation: sourceLocation)
    }
}
