/// Users and groups as a config names them (a group's `user` and `group`,
/// a unix listen socket's `owner` and `group`): a name, or an id as a
/// number or a string of digits (what `chown` takes), looked up when the
/// config is read (`AccountDatabase`). A name that does not exist is a
/// problem of the config; an id is taken as it is.
enum Account: Equatable {
    case id(UInt32)
    case name(String)

    /// As the config wrote it: the name, or the number in digits.
    var written: String {
        switch self {
        case .id(let id): String(id)
        case .name(let name): name
        }
    }
}

/// A user the config named, looked up.
struct ResolvedUser: Equatable {
    var written: String
    var uid: UInt32
    /// nil for a uid the user database does not know.
    var entry: AccountDatabase.User?
}

/// A group the config named, looked up.
struct ResolvedGroup: Equatable {
    var written: String
    var gid: UInt32
}

extension ConfigLoader.Rule where Output == Account {
    /// `expected` says which kind of account, for the refusal.
    static func account(_ expected: String) -> Self {
        kind(expected) { value in
            switch value {
            case .number(let number) where number.rounded() == number && number >= 0 && number < Double(UInt32.max):
                return .id(UInt32(number))
            case .string(let text) where !text.isEmpty:
                if text.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let id = UInt32(text), id != UInt32.max { return .id(id) }
                return .name(text)
            default:
                return nil
            }
        }
    }
}

extension ConfigLoader.Rule where Output == ResolvedUser {
    static var user: Self {
        ConfigLoader.Rule<Account>.account("a user name such as \"www-data\", or a uid").then { account in
            switch account {
            case .id(let id):
                return .success(ResolvedUser(written: account.written, uid: id, entry: AccountDatabase.user(id: id)))
            case .name(let name):
                guard let entry = AccountDatabase.user(named: name) else { return .failure(ConfigLoader.Refusal("no such user '\(name)'")) }
                return .success(ResolvedUser(written: name, uid: entry.uid, entry: entry))
            }
        }
    }
}

extension ConfigLoader.Rule where Output == ResolvedGroup {
    static var group: Self {
        ConfigLoader.Rule<Account>.account("a group name such as \"www-data\", or a gid").then { account in
            switch account {
            case .id(let id):
                return .success(ResolvedGroup(written: account.written, gid: id))
            case .name(let name):
                guard let gid = AccountDatabase.groupID(named: name) else { return .failure(ConfigLoader.Refusal("no such group '\(name)'")) }
                return .success(ResolvedGroup(written: name, gid: gid))
            }
        }
    }
}

extension ConfigLoader.Rule where Output == UInt32 {
    static var userID: Self { ConfigLoader.Rule<ResolvedUser>.user.then { .success($0.uid) } }

    static var groupID: Self { ConfigLoader.Rule<ResolvedGroup>.group.then { .success($0.gid) } }
}
