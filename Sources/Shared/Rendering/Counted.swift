/// "1 process", "3 processes": counts in messages read as English.
public func counted(_ count: Int, _ singular: String, _ plural: String) -> String {
    count == 1 ? "1 \(singular)" : "\(count) \(plural)"
}
