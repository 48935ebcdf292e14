"""memkit as the memory of Python agent frameworks.

- ``memkit.integrations.strands``: ``MemkitSessionManager``, a Strands Agents session manager
  (``pip install "memkit[strands]"``);
- ``memkit.integrations.openai_agents``: ``MemkitSession``, an OpenAI Agents SDK session
  (``pip install "memkit[openai-agents]"``).

Both keep a session as one memkit thread owned by a resource, so the conversation is readable
by ``@mastra/client-js``, the HTTP API and ``Memory`` like any other thread. How a framework's
list of messages or items becomes v2 messages (and comes back exactly) is in ``_thread_log``.

Each module imports its framework; nothing in the API, ops or worker functions imports this
package, and the Lambda layer does not ship the frameworks.
"""
