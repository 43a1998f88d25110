import Foundation
import HyperCrypto

/// The gateway's Ed25519 key pair, stored as hex of the 64-byte secret key in `<data>/gateway.key` (mode 0600).
public enum GatewayKeyFile {
    public static let fileName = "gateway.key"

    /// Problems with the data directory or the key file.
    public enum KeyFileError: Error, CustomStringConvertible {
        case cannotCreateDirectory(String, String)
        case unreadable(String, String)
        case malformed(String)
        case tooOpen(String, Int)
        case cannotWrite(String, String)

        public var description: String {
            switch self {
            case .cannotCreateDirectory(let p, let e): return "cannot create data directory \(p): \(e)"
            case .unreadable(let p, let e): return "cannot read gateway key file \(p): \(e)"
            case .malformed(let p): return "gateway key file \(p) is not 128 hex characters of an Ed25519 secret key"
            case .tooOpen(let p, let mode):
                return "gateway key file \(p) has permissions \(String(mode, radix: 8)); run: chmod 600 \(p)"
            case .cannotWrite(let p, let e): return "cannot write gateway key file \(p): \(e)"
            }
        }
    }

    /// Creates the directory (0700) if needed, then loads the key pair or creates and stores a new one.
    /// `fileName` names another key of the same format (the peer plane's `swarm.key`).
    /// - Returns: the key pair and whether it was created now.
    public static func loadOrCreate(directory: String, fileName: String = fileName) throws -> (
        keyPair: Ed25519KeyPair, created: Bool
    ) {
        let fm = FileManager.default
        do {
            try fm.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw KeyFileError.cannotCreateDirectory(directory, "\(error)")
        }
        let path = (directory as NSString).appendingPathComponent(fileName)
        if fm.fileExists(atPath: path) {
            let attributes = try? fm.attributesOfItem(atPath: path)
            if let mode = (attributes?[.posixPermissions] as? NSNumber)?.intValue, mode & 0o077 != 0 {
                throw KeyFileError.tooOpen(path, mode)
            }
            let text: String
            do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
                throw KeyFileError.unreadable(path, "\(error)")
            }
            let hex = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard hex.count == 128, let bytes = [UInt8](hex: hex), let pair = try? Ed25519KeyPair(secretKey: bytes)
            else { throw KeyFileError.malformed(path) }
            return (pair, false)
        }
        let pair = Ed25519KeyPair.generate()
        let tmp = path + ".tmp"
        // Create with 0600 from the start so the secret is never readable by others, then rename atomically.
        guard
            fm.createFile(
                atPath: tmp, contents: Data((pair.secretKey.hex + "\n").utf8), attributes: [.posixPermissions: 0o600])
        else { throw KeyFileError.cannotWrite(tmp, "create failed") }
        do {
            try fm.setAttributes([.posixPermissions: 0o600], ofItemAtPath: tmp)
            _ = try? fm.removeItem(atPath: path)
            try fm.moveItem(atPath: tmp, toPath: path)
        } catch {
            throw KeyFileError.cannotWrite(path, "\(error)")
        }
        return (pair, true)
    }
}
