// Tests for HyperTree: filled by its issue.
