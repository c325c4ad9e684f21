"""Data governance: retention and purges, erasure on request, and the tamper-evident audit log."""
