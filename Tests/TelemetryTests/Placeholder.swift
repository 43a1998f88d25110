// Tests for Telemetry: filled by its issue.
