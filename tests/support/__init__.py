"""Test support: a throwaway PostgreSQL, a recording adapter, a server on a free port."""
