import Testing
@testable import BlobServer

/// Keeps `config/kubernetes/` true: the DaemonSet starts a server that accepts its arguments, the
/// probes hit the server's endpoints, the Service and the NetworkPolicy select its pods, every
/// port agrees, and containerd's hosts.toml is the shipped example.
@Suite struct KubernetesManifestTests {
    static let repository = "/" + String(#filePath).split(separator: "/").dropLast(3).joined(separator: "/")
    static let port = "5000"

    /// Every document of a manifest file.
    static func documents(_ file: String) throws -> [YAMLValue] {
        let path = "\(repository)/config/kubernetes/\(file)"
        return try YAMLSubsetReader.documents(String(decoding: try ConfigurationLoader.readWholeFile(path), as: UTF8.self))
    }

    /// The one document of `kind` named `name` in `file`.
    static func object(_ kind: String, _ name: String, in file: String) throws -> YAMLValue {
        let matches = try documents(file).filter { try $0.field("kind").text() == kind && $0.field("metadata").field("name").text() == name }
        guard matches.count == 1 else { throw YAMLSubsetError(line: 0, reason: "\(file) holds \(matches.count) \(kind) named \(name)") }
        return matches[0]
    }

    static func daemonSet() throws -> YAMLValue { try object("DaemonSet", "blobcache", in: "daemonset.yaml") }

    static func container() throws -> YAMLValue {
        let containers = try daemonSet().field("spec").field("template").field("spec").field("containers").items()
        try #require(containers.count == 1)
        return containers[0]
    }

    static func podLabels() throws -> [String: String] {
        try daemonSet().field("spec").field("template").field("metadata").field("labels").textMapping()
    }

    /// The container's args after `serve`, and its environment with the downward-API POD_IP
    /// replaced by an address, as the kubelet would.
    static func serveArgumentsAndEnvironment() throws -> (arguments: [String], environment: [String: String]) {
        let container = try container()
        let arguments = try container.field("args").items().map { try $0.text() }
        try #require(arguments.first == "serve")
        var environment: [String: String] = [:]
        for variable in try container.field("env").items() {
            let name = try variable.field("name").text()
            if name == "BLOBCACHE_POD_IP" {
                #expect(try variable.field("valueFrom").field("fieldRef").field("fieldPath").text() == "status.podIP")
                environment[name] = "10.244.3.7"
            } else {
                environment[name] = try variable.field("value").text()
            }
        }
        return (Array(arguments.dropFirst()), environment)
    }

    static func hostsFileLines(_ text: String) -> [Substring] {
        text.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.allSatisfy { $0 == " " } }
    }

    @Test func everyManifestParsesAndLivesInTheBlobcacheNamespace() throws {
        for file in ["daemonset.yaml", "service-peers.yaml", "containerd-hosts.yaml", "networkpolicy.yaml"] {
            let documents = try Self.documents(file)
            #expect(!documents.isEmpty, "\(file) holds no document")
            for document in documents {
                let kind = try document.field("kind").text()
                _ = try document.field("apiVersion").text()
                let metadata = try document.field("metadata")
                if kind == "Namespace" {
                    #expect(try metadata.field("name").text() == "blobcache")
                } else {
                    #expect(try metadata.field("namespace").text() == "blobcache", "\(kind) in \(file)")
                }
            }
        }
    }

    @Test func theServerAcceptsTheDaemonSetsArgumentsAndEnvironment() throws {
        let (arguments, environment) = try Self.serveArgumentsAndEnvironment()
        let configuration = try ConfigurationLoader().load(arguments: arguments, environment: environment)
        #expect(configuration.memoryBudget == nil, "--memory-budget auto: the budget comes from the cgroup limit")
        #expect(configuration.peers == "blobcache-peers.blobcache.svc.cluster.local:\(Self.port)")
        #expect(configuration.upstreams.map(\.registry) == ["docker.io", "*"])
        let mounts = try Self.container().field("volumeMounts").items()
        #expect(try mounts.contains { try $0.field("mountPath").text() == configuration.dataDirectory }, "the data dir is a mounted volume")
    }

    @Test func probesAskReadyzAndHealthzOnTheContainerPort() throws {
        let container = try Self.container()
        let expected = ["startupProbe": "/readyz", "readinessProbe": "/readyz", "livenessProbe": "/healthz"]
        for (probe, path) in expected {
            let request = try container.field(probe).field("httpGet")
            #expect(try request.field("path").text() == path, "\(probe)")
            #expect(try request.field("port").text() == Self.port, "\(probe)")
        }
    }

    @Test func memoryRequestEqualsLimitSoTheAutoBudgetMatchesTheReservation() throws {
        let resources = try Self.container().field("resources")
        #expect(try resources.field("requests").field("memory").text() == "128Mi")
        #expect(try resources.field("limits").field("memory").text() == "128Mi")
        _ = try resources.field("requests").field("cpu").text()
    }

    @Test func podOutlivesTheDrainRunsAsNonRootReadOnlyAndToleratesEveryTaint() throws {
        let pod = try Self.daemonSet().field("spec").field("template").field("spec")
        let grace = try #require(Int(try pod.field("terminationGracePeriodSeconds").text()))
        #expect(grace > 10, "the server drains for up to 10 s after SIGTERM")
        #expect(try pod.field("securityContext").field("runAsNonRoot").text() == "true")
        let containerSecurity = try Self.container().field("securityContext")
        #expect(try containerSecurity.field("readOnlyRootFilesystem").text() == "true")
        #expect(try containerSecurity.field("allowPrivilegeEscalation").text() == "false")
        let tolerations = try pod.field("tolerations").items()
        #expect(try tolerations.contains { try $0.field("operator").text() == "Exists" && (try? $0.field("key")) == nil })
    }

    @Test func peerServiceIsHeadlessPublishesNotReadyAndSelectsTheDaemonSetsPods() throws {
        let service = try Self.object("Service", "blobcache-peers", in: "service-peers.yaml").field("spec")
        #expect(try service.field("clusterIP").text() == "None")
        #expect(try service.field("publishNotReadyAddresses").text() == "true")
        let selector = try service.field("selector").textMapping()
        let labels = try Self.podLabels()
        #expect(!selector.isEmpty && selector.allSatisfy { labels[$0.key] == $0.value })
        #expect(try Self.daemonSet().field("spec").field("selector").field("matchLabels").textMapping() == selector)
    }

    @Test func portsAgreeEverywhere() throws {
        let (arguments, _) = try Self.serveArgumentsAndEnvironment()
        let listen = try #require(arguments.firstIndex(of: "--listen").map { arguments[$0 + 1] })
        #expect(listen.split(separator: ":").last == Substring(Self.port), "--listen \(listen)")
        let peers = try #require(arguments.firstIndex(of: "--peers").map { arguments[$0 + 1] })
        #expect(peers == "blobcache-peers.blobcache.svc.cluster.local:\(Self.port)", "--peers names the Service and its port")

        let containerPorts = try Self.container().field("ports").items()
        try #require(containerPorts.count == 1)
        #expect(try containerPorts[0].field("containerPort").text() == Self.port)
        #expect(try containerPorts[0].field("hostPort").text() == Self.port)

        let servicePorts = try Self.object("Service", "blobcache-peers", in: "service-peers.yaml").field("spec").field("ports").items()
        try #require(servicePorts.count == 1)
        #expect(try servicePorts[0].field("port").text() == Self.port)
        #expect(try servicePorts[0].field("targetPort").text() == Self.port)

        let ingress = try Self.object("NetworkPolicy", "blobcache", in: "networkpolicy.yaml").field("spec").field("ingress").items()
        for rule in ingress {
            #expect(try rule.field("ports").items().map { try $0.field("port").text() } == [Self.port])
        }

        let hosts = try Self.object("ConfigMap", "blobcache-containerd-hosts", in: "containerd-hosts.yaml").field("data")
        for key in ["docker.io.hosts.toml", "_default.hosts.toml"] {
            #expect(try hosts.field(key).text().contains(#"[host."http://127.0.0.1:\#(Self.port)"]"#), "\(key) points containerd at the hostPort")
        }
    }

    @Test func networkPolicyLetsInPeersTheNodeAndTheScraperOnly() throws {
        let spec = try Self.object("NetworkPolicy", "blobcache", in: "networkpolicy.yaml").field("spec")
        let selected = try spec.field("podSelector").field("matchLabels").textMapping()
        let labels = try Self.podLabels()
        #expect(!selected.isEmpty && selected.allSatisfy { labels[$0.key] == $0.value })
        #expect(try spec.field("policyTypes").items() == [.scalar("Ingress")])
        let sources = try spec.field("ingress").items().flatMap { try $0.field("from").items() }
        #expect(try sources.contains { try $0.field("podSelector").field("matchLabels").textMapping() == selected })
        #expect(sources.contains { (try? $0.field("ipBlock").field("cidr").text()) != nil })
        #expect(sources.contains { (try? $0.field("namespaceSelector").field("matchLabels").textMapping())?.isEmpty == false })
        #expect(sources.count == 3, "no other source: \(sources)")
    }

    @Test func containerdHostsFilesAreTheShippedExample() throws {
        let example = String(decoding: try ConfigurationLoader.readWholeFile("\(Self.repository)/config/containerd/certs.d/docker.io/hosts.toml"), as: UTF8.self)
        let exampleLines = Self.hostsFileLines(example)
        try #require(exampleLines.first?.hasPrefix("server = ") == true)
        let hosts = try Self.object("ConfigMap", "blobcache-containerd-hosts", in: "containerd-hosts.yaml").field("data")
        #expect(Self.hostsFileLines(try hosts.field("docker.io.hosts.toml").text()) == exampleLines)
        // Any other registry: the same mirror, and containerd's default server (the registry itself).
        #expect(Self.hostsFileLines(try hosts.field("_default.hosts.toml").text()) == Array(exampleLines.dropFirst()))
    }
}

/// The reader the manifest tests rely on: what it accepts, and that it refuses the rest aloud.
@Suite struct KubernetesManifestYAMLSubsetTests {
    @Test func readsTheConstructsTheManifestsUse() throws {
        let text = """
            # comment
            a: plain   # trailing comment
            b: "x \\"y\\" # not a comment"
            c: 'it''s'
            d: ["one", 'two', three]
            e:
            - f: 1
              g:
                - h
            i:
              - - nested
            j: |
              line one

                indented
            k: "last"
            ---
            second: document
            """
        let documents = try YAMLSubsetReader.documents(text)
        #expect(documents.count == 2)
        #expect(documents[0] == .mapping([
            "a": .scalar("plain"),
            "b": .scalar("x \"y\" # not a comment"),
            "c": .scalar("it's"),
            "d": .sequence([.scalar("one"), .scalar("two"), .scalar("three")]),
            "e": .sequence([.mapping(["f": .scalar("1"), "g": .sequence([.scalar("h")])])]),
            "i": .sequence([.sequence([.scalar("nested")])]),
            "j": .scalar("line one\n\n  indented\n"),
            "k": .scalar("last"),
        ]))
        #expect(documents[1] == .mapping(["second": .scalar("document")]))
    }

    @Test(arguments: [
        ("a: {}", 1),
        ("a: &anchor x", 1),
        ("a: !tag x", 1),
        ("a: >\n  folded", 1),
        ("a: 1\na: 2", 2),
        ("a:\n  b: 1\n   c: 2", 3),
        ("a: \"open", 1),
        ("a: [x, \"y]", 1),
        ("a:\n\t- x", 2),
        ("a:", 1),
        ("a: b: c", 1),
        ("- x\ny: 1", 2),
        ("  a: 1", 1),
    ])
    func refusesWhatItDoesNotUnderstand(text: String, line: Int) {
        #expect { try YAMLSubsetReader.documents(text) } throws: { error in
            (error as? YAMLSubsetError)?.line == line
        }
    }
}
