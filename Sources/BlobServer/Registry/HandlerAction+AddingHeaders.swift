extension HandlerAction {
    /// The same action with `headers` added to whatever response it ends in: now, after its
    /// blocking work, or after its body (`OCI-Namespace` goes on every answer to an `ns=` request).
    func addingHeaders(_ headers: [(name: String, value: String)]) -> HandlerAction {
        switch self {
        case .respond(var response):
            response.headers += headers
            return .respond(response)
        case .blocking(let work):
            return .blocking { work().addingHeaders(headers) }
        case .receiveBody(let sink):
            return .receiveBody(HeaderAddingSink(sink, headers: headers))
        case .awaiting(let start):
            return .awaiting { completion in
                start(ActionCompletion { completion($0.addingHeaders(headers)) })
            }
        }
    }
}

/// A sink that passes everything to `inner` and adds fields to its answers.
/// Sendable: both stored properties are immutable and Sendable.
private final class HeaderAddingSink: RequestBodySink {
    private let inner: any RequestBodySink
    private let headers: [(name: String, value: String)]

    init(_ inner: any RequestBodySink, headers: [(name: String, value: String)]) {
        self.inner = inner
        self.headers = headers
    }

    func write(_ bytes: UnsafeRawBufferPointer) -> Response? {
        inner.write(bytes).map(adding)
    }

    func finish() -> Response { adding(inner.finish()) }

    func abandon() { inner.abandon() }

    private func adding(_ response: Response) -> Response {
        var response = response
        response.headers += headers
        return response
    }
}
