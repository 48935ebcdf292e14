"""Mastra v2 messages <-> provider message formats, and the working-memory tool.

One module per format, each with the same functions (plain dicts in, plain dicts out; no I/O,
no provider SDKs):

- ``openai_chat``: OpenAI Chat Completions ``messages``;
- ``openai_responses``: OpenAI Responses API ``input`` items;
- ``anthropic``: Anthropic Messages ``system`` + ``messages``;
- ``bedrock``: Amazon Bedrock Converse ``system`` + ``messages``.

``to_v2(provider_messages, thread_id=..., resource_id=..., new_id=..., clock=...)`` gives v2
messages ready for ``Memory.save_messages``; ``from_v2(v2_messages)`` gives what the provider's
API takes. ``tool(definition)``, ``tool_calls(message)`` and ``tool_result_messages(results)``
carry tools (``memkit.formats.tools``) across; ``working_memory`` builds the
``updateWorkingMemory`` tool and its instructions. The rules every format shares (how tool
results merge into the assistant message, steps, ids and timestamps) are in ``_v2``; what each
format keeps, normalises or cannot express is in its module's docstring. Bad input raises
``memkit.errors.ValidationError`` naming where it is (``messages[3].content[1].type``).

Nothing in the API function imports this package: import the module you need.
"""
