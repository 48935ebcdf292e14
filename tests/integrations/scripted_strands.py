"""A Strands model that answers from a script: each reply is the content of one Converse
assistant message (text and toolUse blocks), streamed as Bedrock's ConverseStream events, so
an Agent runs its real event loop (tool calls included) without a network."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Iterable
from typing import Any

from strands.models import Model


class ScriptedModel(Model):
    def __init__(self, replies: Iterable[list[dict[str, Any]]]) -> None:
        self.replies = [list(reply) for reply in replies]
        # The conversation the agent sent with each call, as given.
        self.requests: list[list[dict[str, Any]]] = []

    def update_config(self, **model_config: Any) -> None:
        raise NotImplementedError("a scripted model has no configuration")

    def get_config(self) -> dict[str, Any]:
        return {}

    async def structured_output(self, output_model: Any, prompt: Any, system_prompt: str | None = None, **kwargs: Any) -> AsyncIterator[Any]:
        raise NotImplementedError("the scripted model answers with text and tool calls only")
        yield  # an async generator, as the interface declares

    async def stream(self, messages: Any, tool_specs: Any = None, system_prompt: str | None = None, **kwargs: Any) -> AsyncIterator[dict[str, Any]]:
        if not self.replies:
            raise AssertionError(f"the model was called more often than scripted; last request: {messages[-1]}")
        self.requests.append(copy.deepcopy(messages))
        reply = self.replies.pop(0)
        yield {"messageStart": {"role": "assistant"}}
        stop_reason = "end_turn"
        for block in reply:
            if "toolUse" in block:
                call = block["toolUse"]
                stop_reason = "tool_use"
                yield {"contentBlockStart": {"start": {"toolUse": {"name": call["name"], "toolUseId": call["toolUseId"]}}}}
                yield {"contentBlockDelta": {"delta": {"toolUse": {"input": json.dumps(call["input"])}}}}
            else:
                yield {"contentBlockDelta": {"delta": {"text": block["text"]}}}
            yield {"contentBlockStop": {}}
        yield {"messageStop": {"stopReason": stop_reason}}
        yield {"metadata": {"usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15}, "metrics": {"latencyMs": 1}}}


def text(value: str) -> list[dict[str, Any]]:
    return [{"text": value}]


def tool_use(tool_use_id: str, name: str, **arguments: Any) -> list[dict[str, Any]]:
    return [{"toolUse": {"toolUseId": tool_use_id, "name": name, "input": arguments}}]
