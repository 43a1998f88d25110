// Tests for HyperLog: filled by its issue.
