// HyperLog: Hypercore-compatible signed Merkle log (filled by the HyperLog issue).
