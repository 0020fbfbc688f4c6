/// A throwaway certificate authority and one server certificate it signed, for `localhost` and
/// `127.0.0.1` (subject alternative names), made with `openssl req` and `openssl x509`. Valid
/// for a day; its files live in the test's directory and go with it.
struct TestCertificateAuthority {
    /// The CA certificate (PEM): what a client must trust.
    let certificate: String
    /// The server's certificate (PEM), signed by the CA.
    let serverCertificate: String
    /// The server's private key (PEM, unencrypted).
    let serverKey: String

    /// Makes the CA and the server certificate in `directory` (P-256 keys: fast to make).
    static func make(in directory: String) throws -> TestCertificateAuthority {
        let openssl = try ExternalTool.require("openssl", package: "openssl")
        let authority = TestCertificateAuthority(
            certificate: "\(directory)/ca.pem", serverCertificate: "\(directory)/server.pem", serverKey: "\(directory)/server.key")
        let caKey = "\(directory)/ca.key"
        let request = "\(directory)/server.csr"
        let extensions = "\(directory)/server.ext"
        let keyOptions = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try ExternalTool.run(openssl, ["req", "-x509"] + keyOptions + [
            "-keyout", caKey, "-out", authority.certificate, "-days", "1", "-subj", "/CN=blobcache end-to-end test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ]).check()
        try ExternalTool.run(openssl, ["req"] + keyOptions + [
            "-keyout", authority.serverKey, "-out", request, "-subj", "/CN=localhost",
        ]).check()
        try Files.write("""
            subjectAltName = DNS:localhost, IP:127.0.0.1
            basicConstraints = critical, CA:FALSE
            keyUsage = critical, digitalSignature
            extendedKeyUsage = serverAuth

            """, to: extensions)
        try ExternalTool.run(openssl, [
            "x509", "-req", "-in", request, "-CA", authority.certificate, "-CAkey", caKey, "-CAcreateserial",
            "-out", authority.serverCertificate, "-days", "1", "-extfile", extensions,
        ]).check()
        return authority
    }
}
