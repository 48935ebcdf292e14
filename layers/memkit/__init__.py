"""memkit: durable memory for AI agents (Mastra's memory model) on AWS serverless or one libSQL file.

Imports stay lazy: a Lambda handler pays only for the adapters its settings select.
"""

__version__ = "0.1.0"
