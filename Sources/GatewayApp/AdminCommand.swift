import ArgumentParser
import Foundation
import RelayHost

/// `hypertuna-gateway admin <verb> [params...]`: calls the admin API of a running gateway, signing with NIP-98.
struct AdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin", abstract: "Call the admin API of a running gateway (NIP-98 signed).",
        discussion: """
            Verbs: stats, queue, peers, revoke <peer-swarm-key> [reason], pause-replication [reason],
            resume-replication [reason], liftquarantine <peer-swarm-key>, banpubkey <pubkey> [reason],
            allowpubkey <pubkey> [reason], listbannedpubkeys, listallowedpubkeys, banevent <id> [reason],
            allowevent <id>, listbannedevents, changerelayname <name>, changerelaydescription <text>,
            supportedmethods. The key file holds the 64-hex Nostr secret key of a key in
            GATEWAY_RELAY_ADMIN_PUBLIC_KEY and must be mode 0600.
            """)

    @Argument(help: "The verb (an admin API method).") var verb: String
    @Argument(help: "Parameters of the verb.") var params: [String] = []
    @Option(help: "Gateway base URL.") var url = "http://127.0.0.1:4430"
    @Option(help: "File with the admin's Nostr secret key (hex, mode 0600).") var keyFile: String
    @Option(help: "Reason (appended to the parameters of revoke, pause-replication, resume-replication, ban...).")
    var reason: String?
    @Flag(help: "Print the answer's result as JSON (errors go to standard error).") var json = false

    func run() async throws {
        let key: [UInt8]
        do { key = try AdminClient.loadKey(path: keyFile) } catch {
            GatewaySupport.fail("\(error)")
        }
        let client = AdminClient(baseURL: url, secretKey: key)
        let (status, body) = try await client.call(
            method: verb.lowercased(), params: params + (reason.map { [$0] } ?? []))
        if json {
            if (200..<300).contains(status), let result = AdminClient.resultJSON(body) {
                print(result)
            } else {
                FileHandle.standardError.write(Data((String(decoding: body, as: UTF8.self) + "\n").utf8))
            }
        } else {
            print(AdminClient.render(method: verb.lowercased(), status: status, body: body))
        }
        if !(200..<300).contains(status) { throw ExitCode(1) }
    }
}
