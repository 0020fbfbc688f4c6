/// The registry is what `blobcache serve` runs on the engine.
extension RegistryHandler: RequestHandling {}
