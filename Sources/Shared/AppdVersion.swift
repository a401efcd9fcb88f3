/// The product's version and the control protocol's, shared so `appd` and
/// `appctl` report the same numbers.
public enum AppdVersion {
    public static let current = "0.1.0"
    /// Raised when a reply shape changes incompatibly; additions keep it.
    public static let controlProtocol = 1
}
