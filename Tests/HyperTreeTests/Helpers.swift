import HyperTree

extension Array where Element == UInt8 {
    init(_ s: String) { self = Array(s.utf8) }
}

func b(_ s: String) -> [UInt8] { Array(s.utf8) }

func str(_ bytes: [UInt8]?) -> String? { bytes.map { String(decoding: $0, as: UTF8.self) } }

/// Collects a range as (key, value) strings.
func strings(_ entries: [TreeEntry]) -> [String] { entries.map { str($0.key)! } }
