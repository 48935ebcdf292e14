"""embedders port and adapters."""
