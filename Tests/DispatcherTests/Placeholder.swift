// Tests for Dispatcher: filled by its issue.
