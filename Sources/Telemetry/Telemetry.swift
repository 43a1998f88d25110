// Telemetry: filled by its issue.
