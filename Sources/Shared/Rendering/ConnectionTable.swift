
/// `appctl connections` for people, and the `.connections` file of SIGIO: one row per TCP connection, like `ss -t`.
public enum ConnectionTable {
    public static func render(_ connections: [ConnectionEntry]) -> String {
        guard !connections.isEmpty else { return "no connections\n" }
        let header = ["GROUP", "ID", "PID", "LOCAL", "REMOTE", "STATE", "SEND-Q", "RECV-Q"]
        let rows = connections.map { connection in
            [
                connection.group, String(connection.id), String(connection.pid), connection.local, connection.remote,
                connection.state, String(connection.sendQueue), String(connection.receiveQueue),
            ]
        }
        return TextTable.render([header] + rows) + "\n\(counted(connections.count, "connection", "connections"))\n"
    }
}
