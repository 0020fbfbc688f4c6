import BlobServer
print("blobcache \(BlobcacheVersion.string)")
