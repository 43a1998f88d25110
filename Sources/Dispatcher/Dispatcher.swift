// Dispatcher: filled by its issue.
