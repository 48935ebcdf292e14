"""Storage domains (memory, workflows, scores, observability) and their adapters."""
