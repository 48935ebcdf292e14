"""A bounded property-based fuzz of the HTTP API: schemathesis against the served OpenAPI document.

Every operation of ``/openapi.json`` gets requests generated from the document: fitting it
(positive), not fitting it (negative), and its boundaries (the coverage phase: the longest id,
the largest integer, an empty body...). Each answer must be no 5xx and must match the response
schema the document gives for its status. A fixed seed and a small example count keep a run
repeatable and under a minute; the in-process ASGI app and a real store answer (libSQL, and
DynamoDB Local).

Random ids would only ever meet 404s, so ids are drawn from a small pool most of the time
(schemathesis dictionaries): threads seeded with messages before the run, their owner and the
configured agents. Saves then land in real threads, listings page through real messages, and
includes, filters, clones, working memory and titles run on real data.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import response_schema_conformance

from memkit.config import AgentRegistry, MemoryConfig
from memkit.api.app import create_app
from memkit.api.openapi import openapi_json
from memkit.api.routes import ROUTES
from memkit.memory import Memory
from memkit.runtime import Runtime
from memkit.settings import Settings
from tests.api.support import message

SEED = 20251204
OWNER = "fuzz-owner"
THREADS = ["fuzz-thread-a", "fuzz-thread-b", "fuzz-thread-c"]
MESSAGES_PER_THREAD = 12

AGENTS = {
    "default": {
        "lastMessages": 10,
        "generateTitle": True,
        "workingMemory": {"enabled": True},
        "semanticRecall": {"topK": 3, "messageRange": 1},
    },
    "schema": {
        "workingMemory": {"enabled": True, "schema": {"type": "object", "properties": {"name": {"type": "string"}}}}
    },
    "thread": {"workingMemory": {"enabled": True, "scope": "thread"}},
    "reader": {"readOnly": True},
}

POOLED = 0.8
CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": SEED,
        "generation": {"mode": "all", "max-examples": 12, "deterministic": True, "database": "none"},
        "phases": {"coverage": {"enabled": True}, "stateful": {"enabled": False}},
        "dictionaries": {
            "threads": {"values": THREADS},
            "resources": {"values": [OWNER]},
            "agents": {"values": list(AGENTS)},
        },
        "parameters": {
            **{
                key: {"dictionary": "threads", "probability": POOLED}
                for key in ("path.threadId", "query.threadId", "body.messages[*].threadId")
            },
            **{
                key: {"dictionary": "resources", "probability": POOLED}
                for key in ("path.resourceId", "query.resourceId", "body.resourceId", "body.messages[*].resourceId")
            },
            **{key: {"dictionary": "agents", "probability": POOLED} for key in ("query.agentId", "body.agentId")},
        },
    }
)

# The document the app serves (the same cached object /openapi.json returns).
schema = schemathesis.openapi.from_dict(openapi_json(ROUTES), config=CONFIG)


@pytest.fixture(scope="module", params=["libsql", pytest.param("dynamodb", marks=pytest.mark.dynamodb)])
def fuzz_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if request.param == "dynamodb":
        request.getfixturevalue("dynamodb_endpoint")
        settings = Settings(storage_url="dynamodb://memkit-fuzz-tests")
    else:
        database = tmp_path_factory.mktemp("fuzz") / "memkit.db"
        settings = Settings(storage_url=f"file:{database}", vector_url=f"file:{database}")
    registry = AgentRegistry({agent_id: MemoryConfig.model_validate(config) for agent_id, config in AGENTS.items()})
    runtime = Runtime(settings, registry)
    _seed_threads(runtime.memory())
    yield create_app(runtime)
    runtime.close()


def _seed_threads(memory: Memory) -> None:
    for thread_id in THREADS:
        if memory.get_thread(thread_id) is not None:
            # DynamoDB Local lives for the session: a thread deleted by an earlier run is
            # re-created below, one that survived keeps growing (which the fuzz does not mind).
            continue
        memory.create_thread(resource_id=OWNER, thread_id=thread_id)
        memory.save_messages(
            [
                message(thread_id, OWNER, f"message {n} of {thread_id}", role="user" if n % 2 == 0 else "assistant", at_ms=n)
                for n in range(MESSAGES_PER_THREAD)
            ]
        )


@schema.parametrize()
def test_no_request_gets_a_server_error_or_an_undocumented_answer(case: Any, fuzz_app: Any) -> None:
    case.call_and_validate(app=fuzz_app, checks=[not_a_server_error, response_schema_conformance])
