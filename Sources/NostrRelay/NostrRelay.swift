// NostrRelay: filled by its issue.
