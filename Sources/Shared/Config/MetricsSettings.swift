/// The top-level `metrics` setting: `metrics: {listen: "tcp://127.0.0.1:9469"}`
/// opens an HTTP listener serving `/metrics` (Prometheus) and `/healthz`
/// (Kubernetes probes). Without it there is no listener; `appctl metrics`
/// works either way.
public struct MetricsSettings: Sendable, Equatable {
    /// Always `.tcp`: the validator refuses anything else, since scrapers
    /// and probes speak HTTP over TCP.
    public var listen: ListenAddress

    public init(listen: ListenAddress) { self.listen = listen }
}
