// TokenService: filled by its issue.
