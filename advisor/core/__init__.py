"""The bottom of the import ladder: small helpers every app uses. Imports no app of ours."""
