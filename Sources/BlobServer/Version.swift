/// The release this build reports in `--version` and the `Server` header.
public enum BlobcacheVersion {
    public static let string = "0.1.0"
}
