// Tests for NostrRelay: filled by its issue.
