"""The argument models of ``memkit.operations.calls``, one module per family of operations.

Why split: a pydantic model costs about half a millisecond to define, and a Lambda cold start
defines every model its modules declare. ``calls.OPERATIONS`` names each operation's model as
``"family:Class"`` and imports the family on the operation's first call, so the first request
defines the models of its own family only (``listThreads``: 5 of 14). Like ``memkit.models``,
these modules evaluate annotations eagerly (no ``from __future__ import annotations``).
"""
