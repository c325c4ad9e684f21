"""Earshot's shared core: neutral types, domain logic and delivery. No platform SDK is imported here."""
