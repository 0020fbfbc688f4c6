import BlobStore
import Glibc

extension DockerRegistry {
    /// Stores `bytes` as a blob of `repository` and returns its digest. No manifest refers to
    /// it: blob GETs are all a cache asks for, and a blob made to order (one a given node owns)
    /// cannot come from an image build.
    func upload(_ bytes: [UInt8], to repository: String) throws -> Digest {
        let file = directory.file("upload.bin")
        try Files.write(bytes, to: file)
        defer { unlink(file) }
        return try upload(fileAt: file, to: repository)
    }

    /// Stores `size` fresh random bytes as a blob of `repository` and returns its digest; the
    /// bytes go from /dev/urandom to the registry without passing through the test's memory.
    func uploadRandomBlob(size: Int, to repository: String) throws -> Digest {
        let file = directory.file("upload.bin")
        try ExternalTool.shell("head -c \(size) /dev/urandom > \(shellQuoted(file))").check()
        defer { unlink(file) }
        return try upload(fileAt: file, to: repository)
    }

    /// The monolithic upload of the distribution spec with curl: POST for a session, then PUT
    /// the whole body with `?digest=`. Over TLS, curl trusts the registry's test CA.
    private func upload(fileAt file: String, to repository: String) throws -> Digest {
        _ = try ExternalTool.require("curl", package: "curl")
        let trust = certificateAuthority.map { "--cacert \(shellQuoted($0.certificate))" } ?? ""
        let run = try ExternalTool.shell("""
            set -e
            digest=sha256:$(sha256sum \(shellQuoted(file)) | cut -d' ' -f1)
            location=$(curl -sS -f \(trust) -X POST -D - -o /dev/null \(shellQuoted("\(baseURL)/v2/\(repository)/blobs/uploads/")) \
              | tr -d '\\r' | sed -n 's/^[Ll]ocation: //p')
            case $location in /*) location=\(shellQuoted(baseURL))$location ;; esac
            case $location in *\\?*) separator='&' ;; *) separator='?' ;; esac
            curl -sS -f \(trust) -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' \
              --data-binary @\(shellQuoted(file)) "$location${separator}digest=$digest"
            echo "digest=$digest"
            """).check()
        guard let line = run.output.split(separator: "\n").last(where: { $0.hasPrefix("digest=") }) else {
            throw EndToEndFailure("uploading \(file) printed no digest= line:\n\(run.output)")
        }
        return try Digest(parsing: line.dropFirst("digest=".count))
    }
}
