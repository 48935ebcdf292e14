"""api port and adapters."""
