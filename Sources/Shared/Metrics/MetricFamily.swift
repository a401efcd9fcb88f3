/// One metric family of the Prometheus text exposition format (0.0.4): a
/// name, what it means (`# HELP`), its type (`# TYPE`) and its samples, one
/// per label set.
public struct MetricFamily: Sendable, Equatable {
    /// The two types appd exposes. A counter only goes up (it may start
    /// again from 0 when what it counts is created anew: a process, a group
    /// re-added); a gauge is a value of the moment.
    public enum Kind: String, Sendable {
        case counter, gauge
    }

    public let name: String
    public let kind: Kind
    public let help: String
    public internal(set) var samples: [MetricSample]

    public init(_ name: String, _ kind: Kind, help: String, samples: [MetricSample] = []) {
        self.name = name
        self.kind = kind
        self.help = help
        self.samples = samples
    }
}

/// One line of a family: its labels, in the order given, and its value.
public struct MetricSample: Sendable, Equatable {
    public var labels: [MetricLabel]
    public var value: Double

    public init(_ labels: [MetricLabel], _ value: Double) {
        self.labels = labels
        self.value = value
    }

    /// A family's one sample, without labels.
    public init(_ value: Double) { self.init([MetricLabel](), value) }

    /// Labels written as pairs: `MetricSample(["group": "web"], 4)` keeps
    /// the order they are written in (a dictionary would not).
    public init(_ labels: KeyValuePairs<String, String>, _ value: Double) {
        self.init(labels.map { MetricLabel(name: $0.key, value: $0.value) }, value)
    }
}

public struct MetricLabel: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}
