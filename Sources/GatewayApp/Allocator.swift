import CJemalloc

/// The process's memory allocator.
///
/// The gateway executable links jemalloc, which replaces the C library's malloc for the whole process: the relay's
/// writer allocates and frees many small B-tree nodes per event while other threads parse and verify, a pattern on
/// which glibc's allocator spent about a fifth of the gateway's CPU (Docs/operations.md, "Memory allocator").
enum Allocator {
    /// "jemalloc <version>" when jemalloc answers `mallctl("version")`, else a note that the C library's is in use.
    static var summary: String {
        var version: UnsafePointer<CChar>? = nil
        var size = MemoryLayout<UnsafePointer<CChar>?>.size
        guard mallctl("version", &version, &size, nil, 0) == 0, let version else {
            return "the C library's malloc (jemalloc did not answer)"
        }
        return "jemalloc \(String(cString: version))"
    }
}
