// Tests for TokenService: filled by its issue.
