// HyperTree: filled by its issue.
