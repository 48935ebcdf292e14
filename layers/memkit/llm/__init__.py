"""llm port and adapters."""
