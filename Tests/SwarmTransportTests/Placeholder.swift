// Tests for SwarmTransport: filled by its issue.
