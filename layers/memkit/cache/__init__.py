"""cache port and adapters."""
