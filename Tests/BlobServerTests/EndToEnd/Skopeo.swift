/// skopeo as the registry client that copies images between an OCI layout and a registry, with
/// TLS verification off: blobcache listens on plain HTTP, and test registries use a private CA.
enum Skopeo {
    /// `skopeo copy <reference> oci:<layout>:v1`; `reference` is `docker://host:port/name:tag`.
    static func pull(_ reference: String, into layout: String) throws -> ExternalTool.Run {
        let skopeo = try ExternalTool.require("skopeo", package: "skopeo")
        return try ExternalTool.run(skopeo, ["--insecure-policy", "copy", "--src-tls-verify=false", reference, "oci:\(layout):v1"])
    }

    /// `skopeo copy oci:<image>:v1 <reference>`.
    static func push(_ image: OCIImageLayout, to reference: String) throws -> ExternalTool.Run {
        let skopeo = try ExternalTool.require("skopeo", package: "skopeo")
        return try ExternalTool.run(skopeo, ["--insecure-policy", "copy", "--dest-tls-verify=false", "oci:\(image.path):v1", reference])
    }
}
