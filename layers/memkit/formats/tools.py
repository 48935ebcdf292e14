"""Tools as every format sees them: a definition, a call the model made, the result sent back.

Each format module renders a ``ToolDefinition`` in its own tool syntax (``tool()``), reads the
calls out of a model's message (``tool_calls()``) and writes results back
(``tool_result_messages()``).
"""

from __future__ import annotations

from typing import Any, NamedTuple


class ToolDefinition(NamedTuple):
    name: str
    description: str
    input_schema: dict[str, Any]  # JSON schema of the arguments object


class ToolCall(NamedTuple):
    id: str  # the provider's tool call id, kept as given
    name: str
    args: dict[str, Any]


class ToolResult(NamedTuple):
    call_id: str
    # What the tool returned: a string goes as text, ``{"content": [...]}`` as content blocks
    # (MCP's shape: text, image, file), anything else as JSON. For an error, the error text.
    value: Any
    is_error: bool = False
