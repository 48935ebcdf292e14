"""vector port and adapters."""
