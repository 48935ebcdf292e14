"""The memory-store conformance suite: one set of tests every ``MemoryStorage`` backend passes unchanged."""
