"""memkit: durable memory for AI agents (Mastra's memory model) on AWS serverless or one libSQL file.

Imports stay lazy: a Lambda handler pays only for the adapters its settings select.
"""

__version__ = "0.1.0"

_LAZY_EXPORTS = {
    "Memory": "memkit.memory",
    "MemoryConfig": "memkit.config",
    "Runtime": "memkit.runtime",
    "open_memory": "memkit.runtime",
    "Settings": "memkit.settings",
    "create_memory_storage": "memkit.storage.factory",
    "create_store": "memkit.storage.factory",
    "CompositeStore": "memkit.storage.composite",
    "request_scope": "memkit.cache.base",
}

__all__ = ["__version__", *_LAZY_EXPORTS]


def __getattr__(name: str):
    module_name = _LAZY_EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'memkit' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module_name), name)
