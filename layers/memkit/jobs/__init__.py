"""jobs port and adapters."""
