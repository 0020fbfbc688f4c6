extension UpstreamConnection {
    /// Asks the proxy this fresh connection reaches for a tunnel to `origin`
    /// (`CONNECT host:port HTTP/1.1`, RFC 9110 §9.3.6), with `Proxy-Authorization` when the
    /// proxy URL had credentials. Any 2xx opens the tunnel; anything else fails the connect.
    func openTunnel(through proxy: ProxyRoute, deadline: IODeadline) throws(UpstreamConnectionFailure) {
        var request = "CONNECT \(origin.authority) HTTP/1.1\r\nHost: \(origin.authority)\r\n"
        if let authorization = proxy.authorization { request += "Proxy-Authorization: \(authorization)\r\n" }
        request += "\r\n"
        try send(Array(request.utf8), deadline: deadline)
        let proxyName = "proxy \(UpstreamURL.bracketed(proxy.host)):\(proxy.port)"
        while true {
            if let (head, consumed) = try UpstreamResponseHead.parse(unread) {
                consume(consumed)
                guard (200..<300).contains(head.status) else {
                    throw UpstreamConnectionFailure(.connectFailed, "\(proxyName) refused CONNECT \(origin.authority): \(head.status)")
                }
                guard unread.isEmpty else {
                    throw UpstreamConnectionFailure(.malformed, "\(proxyName) sent bytes after its CONNECT answer")
                }
                return
            }
            guard try fill(deadline: deadline) > 0 else {
                throw UpstreamConnectionFailure(.connectFailed, "\(proxyName) closed the connection during CONNECT")
            }
        }
    }
}
