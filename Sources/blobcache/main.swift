// blobcache: the executable. Parses the command line and hands off to the library.
import BlobServer
import BlobStore
import Glibc

let usage = """
    usage: blobcache serve [--config FILE] [--listen HOST:PORT] [--data-dir DIR] [--max-size SIZE]
                           [--min-free SIZE] [--min-reclaim SIZE] [--memory-budget SIZE|auto]
                           [--upstream [REGISTRY=]URL]... [--peers DNSNAME[:PORT]|IP:PORT,...]
                           [--dns-server HOST:PORT] [--peer-refresh DURATION] [--peer-fanout N]
                           [--peer-secret-file PATH] [--log-level debug|info|warn|error]
                           [--auth-token TOKEN]... [--auth-basic USER:PASSWORD]...
                           [--anonymous-push] [--pull-auth] [--tag-ttl DURATION]
                           [--tag-max-stale DURATION] [--mirror-push] [--upstream-ca-file PEM]
                           [--upstream-tls-verify=false] [--upstream-auth REGISTRY=USER:file:PATH]...
           blobcache verify --data-dir DIR
           blobcache import --data-dir DIR LAYOUT
           blobcache --help | --version

    serve    serve the OCI distribution API, the plain CAS API (/blobs/<digest>), /metrics,
             /healthz and /readyz. SIGTERM or SIGINT stops accepting, drains in-flight
             responses (up to 10 s), flushes the index and exits 0. On a non-loopback listener,
             writes need an --auth-token (Bearer) or --auth-basic credential unless
             --anonymous-push; --pull-auth makes reads need one too. Each flag has a BLOBCACHE_… twin
             (BLOBCACHE_MAX_SIZE) and a key in the JSON file (max_size); flag > environment >
             file > the embedded defaults (config/blobcache.json). SIZE: 1048576, 512MiB, 80%.
             With --upstream the server is a pull-through mirror: what it lacks it fetches
             once, verified, from the upstream for the request's ?ns= registry (REGISTRY=URL;
             *=https://{ns} for any; a bare URL for requests without ns). Tags are cached for
             --tag-ttl (5m), then revalidated with a HEAD, and served up to --tag-max-stale
             (24h) past it while the upstream is down. Upstream passwords come from a file
             (USER:file:PATH) or a variable (USER:env:NAME), never the command line.
             With --peers the nodes of a cluster (a headless Service's A/AAAA records, looked up
             every --peer-refresh (10s), or a fixed list) share their fills: a miss asks the
             blob's owner (rendezvous hashing) first, so the cluster fetches each blob upstream
             once; an owner sends one blob to at most --peer-fanout (8) peers at once and
             redirects the rest to peers it served. Peer bytes are verified like upstream bytes.
             DURATION: 90, 90s, 5m, 12h, 7d.
    verify   re-hash every blob; move bad ones to quarantine/ (they become misses). Exits 1 if
             any blob was quarantined.
    import   seed the store from an OCI image layout directory; every blob is verified against
             its digest on the way in. Exits 1 if any layout file was refused.

    """

/// Writes to stderr without buffering.
func printError(_ text: String) {
    _ = text.withCString { write(2, $0, strlen($0)) }
}

func exitWithUsageError(_ message: String) -> Never {
    printError("blobcache: \(message)\n\n\(usage)")
    exit(2)
}

/// The value of `--data-dir DIR` or `--data-dir=DIR` (required) and up to `positionals` other
/// words, for `verify` and `import`.
func dataDirectory(in arguments: ArraySlice<String>, positionals: Int = 0) -> (directory: String, rest: [String]) {
    var iterator = arguments.makeIterator()
    var found: String? = nil
    var rest: [String] = []
    while let argument = iterator.next() {
        if argument == "--data-dir" {
            guard let value = iterator.next(), !value.isEmpty else { exitWithUsageError("--data-dir needs a directory") }
            found = value
        } else if argument.hasPrefix("--data-dir=") {
            found = String(argument.dropFirst("--data-dir=".count))
        } else if !argument.hasPrefix("-") && rest.count < positionals {
            rest.append(argument)
        } else {
            exitWithUsageError("unknown argument '\(argument)'")
        }
    }
    guard let directory = found, !directory.isEmpty else { exitWithUsageError("--data-dir is required") }
    return (directory, rest)
}

func openStore(_ directory: String, options: BlobStoreOptions = BlobStoreOptions()) -> BlobStore {
    do {
        return try BlobStore(directory: directory, options: options)
    } catch {
        printError("blobcache: cannot open data directory \(directory): \(error)\n")
        exit(1)
    }
}

func verify(_ directory: String) -> Never {
    let store = openStore(directory)
    let bar = isatty(2) == 1 ? ProgressBar(label: "verify") : nil
    do {
        let report = try store.verify { progress in
            bar?.update(done: progress.bytesChecked, total: progress.bytesTotal,
                        detail: "\(progress.blobsChecked) blobs, \(progress.quarantined) quarantined")
        }
        bar?.finish()
        print("verified \(report.blobsChecked) blobs (\(ByteSize.format(report.bytesChecked))); quarantined \(report.quarantined.count)")
        for digest in report.quarantined { print("quarantined \(digest)") }
        try store.close()
        exit(report.quarantined.isEmpty ? 0 : 1)
    } catch {
        bar?.finish()
        printError("blobcache: verify failed: \(error)\n")
        exit(1)
    }
}

func importLayout(_ layout: String, into directory: String) -> Never {
    let store = openStore(directory)
    let bar = isatty(2) == 1 ? ProgressBar(label: "import", countsBytes: false) : nil
    do {
        let report = try OCILayoutImport.run(layout: layout, into: store) { done, total, bytes in
            bar?.update(done: UInt64(done), total: UInt64(total), detail: "blobs, \(ByteSize.format(bytes))")
        }
        bar?.finish()
        print("imported \(report.imported) blobs (\(ByteSize.format(report.bytesImported))); \(report.alreadyPresent) already present; \(report.failed.count) refused")
        for failure in report.failed { print("refused \(failure.path): \(failure.reason)") }
        try store.close()
        exit(report.failed.isEmpty ? 0 : 1)
    } catch {
        bar?.finish()
        printError("blobcache: import failed: \(error)\n")
        exit(1)
    }
}

func serve(_ arguments: [String]) -> Never {
    let configuration: ServerConfiguration
    do {
        configuration = try ConfigurationLoader().load(arguments: arguments, environment: processEnvironment())
    } catch {
        printError("blobcache: bad configuration: \(error)\n")
        exit(2)
    }
    let directory = configuration.dataDirectory
    var signals = sigset_t()
    sigemptyset(&signals)
    sigaddset(&signals, SIGINT)
    sigaddset(&signals, SIGTERM)
    // Blocked before any thread starts, so every thread inherits the mask and sigwait gets them.
    pthread_sigmask(SIG_BLOCK, &signals, nil)
    let store = openStore(directory, options: configuration.storeOptions)
    let logger = Logger(level: configuration.logLevel)
    let loops = HTTPServer.defaultLoopCount
    let metrics = ServerMetrics(loops: loops)
    let server: HTTPServer
    var mirror: Mirror? = nil
    var peers: PeerRouter? = nil
    if configuration.peers != nil || !configuration.upstreams.isEmpty {
        do {
            peers = try PeerRouter.make(configuration: configuration, environment: processEnvironment(), logger: logger)
            let factory = try UpstreamClientFactory(configuration: configuration, environment: processEnvironment(), logger: logger)
            mirror = try Mirror(
                store: store, configuration: configuration, logger: logger,
                makeClient: { registry, url throws(UpstreamError) in try factory.makeClient(registry: registry, url: url) },
                upstreamCounters: factory.counters, peers: peers)
        } catch {
            printError("blobcache: bad configuration: \(error)\n")
            peers?.stop()
            try? store.close()
            exit(2)
        }
    }
    do {
        let handler = try RegistryHandler(store: store, configuration: configuration, metrics: metrics, mirror: mirror)
        server = try HTTPServer(
            address: configuration.listen, store: store, handler: handler, metrics: metrics,
            limits: ServerLimits(budget: configuration.resolvedMemoryBudget, loops: loops), loops: loops, logger: logger)
    } catch {
        printError("blobcache: cannot serve on \(configuration.listen): \(error)\n")
        try? store.close()
        exit(1)
    }
    server.start()
    let stats = store.stats()
    print("blobcache \(BlobcacheVersion.string) listening on http://\(server.address) (data in \(directory): \(stats.blobs) blobs, \(ByteSize.format(stats.bytes)), cap \(ByteSize.format(stats.effectiveCap)))")
    // Supervisors and tests wait for this line: it must not sit in a pipe's buffer.
    fflush(nil)
    var received: Int32 = 0
    sigwait(&signals, &received)
    logger.info("stopping", ["signal": .int(Int64(received))])
    server.stop(drainSeconds: 10)
    peers?.stop()
    // Fills still running are abandoned with the process: their temporaries vanish (O_TMPFILE)
    // or are cleaned at the next start, and nothing half-written is ever visible.
    do {
        try store.close()
    } catch {
        printError("blobcache: flushing the index failed: \(error)\n")
        exit(1)
    }
    exit(0)
}

let arguments = CommandLine.arguments.dropFirst()
switch arguments.first {
case "--help", "-h", "help": print(usage, terminator: ""); exit(0)
case "--version": print("blobcache \(BlobcacheVersion.string)"); exit(0)
case "serve": serve(Array(arguments.dropFirst()))
case "verify": verify(dataDirectory(in: arguments.dropFirst()).directory)
case "import":
    let parsed = dataDirectory(in: arguments.dropFirst(), positionals: 1)
    guard let layout = parsed.rest.first else { exitWithUsageError("import needs the layout directory") }
    importLayout(layout, into: parsed.directory)
case nil: exitWithUsageError("a command is required")
case let other?: exitWithUsageError("unknown command '\(other)'")
}
