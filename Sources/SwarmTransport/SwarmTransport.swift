// SwarmTransport: filled by its issue.
