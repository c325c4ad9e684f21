"""Feedback tools as sources: one module per tool (its pure translation, its own authentication and, for tools
whose answers sit behind an API, its client), the registry of kinds, and the HTTP route that mounts them."""
