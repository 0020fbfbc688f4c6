import Glibc

extension ContainerdInstance {
    /// The shipped example, `config/containerd/certs.d/docker.io/hosts.toml`, with its registry
    /// (`server`) and its mirror (the `host` table) replaced, so the test pulls with the text users
    /// copy. Fails if the example no longer has the lines this replaces.
    static func exampleHostsFile(server: String, mirror: String) throws -> String {
        let path = "\(OCIImageLayout.packageRoot)/config/containerd/certs.d/docker.io/hosts.toml"
        guard let text = Files.text(path) else { throw EndToEndFailure("cannot read the example \(path)") }
        let exampleServer = #"server = "https://registry-1.docker.io""#
        let exampleMirror = #"[host."http://127.0.0.1:5000"]"#
        guard text.contains(exampleServer), text.contains(exampleMirror) else {
            throw EndToEndFailure("\(path) no longer contains `\(exampleServer)` and `\(exampleMirror)`:\n\(text)")
        }
        return text
            .replacing(exampleServer, with: #"server = "\#(server)""#)
            .replacing(exampleMirror, with: #"[host."\#(mirror)"]"#)
    }

    /// Writes `text` as the `hosts.toml` of `registry` (`host[:port]`) in the hosts directory
    /// that `pull` passes to ctr.
    func writeHostsFile(_ text: String, for registry: String) throws {
        let folder = "\(hostsDirectory)/\(registry)"
        guard mkdir(folder, 0o700) == 0 || errno == EEXIST else { throw EndToEndFailure("mkdir \(folder): errno \(errno)") }
        try Files.write(text, to: "\(folder)/hosts.toml")
    }
}
