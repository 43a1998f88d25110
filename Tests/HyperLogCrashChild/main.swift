// Test helper for HyperLogTests' crash-safety test: appends batches to a durable LMDB log forever and prints
// "ok <length>" after every append that returned, so the parent knows what must survive a SIGKILL.
// Usage: HyperLogCrashChild <store directory>
import HyperCrypto
import HyperLog

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes a line straight to a file descriptor (unbuffered, so nothing is lost at SIGKILL).
func emit(_ line: String, fd: Int32 = 1) {
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
}

guard CommandLine.arguments.count == 2 else {
    emit("usage: HyperLogCrashChild <store directory>", fd: 2)
    exit(2)
}
do {
    let store = try LMDBLogStore(path: CommandLine.arguments[1], durable: true)
    let storage = try store.open(name: "crash")
    let log: HyperLog
    if (try? HyperLog.open(storage)) != nil {
        log = try HyperLog.open(storage)
    } else {
        log = try HyperLog.create(in: storage, keyPair: try Ed25519KeyPair(seed: [UInt8](repeating: 42, count: 32)))
    }
    var next = log.length
    var round: UInt64 = 0
    while true {
        round += 1
        let n = 1 + Int(round % 17)
        let batch = (0..<n).map { i in Array("crash-\(next + UInt64(i))".utf8) }
        let length = try log.append(batch)
        next = length
        emit("ok \(length)")
    }
} catch {
    emit("HyperLogCrashChild: \(error)", fd: 2)
    exit(1)
}
