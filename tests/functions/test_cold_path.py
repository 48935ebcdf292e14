"""What the API function's first request loads: the modules of its own route, not every
route's. A fresh interpreter imports the real handler and serves one ``listThreads`` event."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from infra.local import stack

REPO_ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import gc, importlib.util, json, sys
sys.path.insert(0, sys.argv[2])
from lambda_events import LambdaContext, http_api_event
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
collecting_during_init = gc.isenabled()
event = http_api_event("GET", "/api/memory/threads", query={"resourceId": "r"}, headers={"x-api-key": "cold-path"})
response = module.handler(event, LambdaContext())
print(json.dumps({
    "status": response["statusCode"],
    "collecting during init": collecting_during_init,
    "collecting after": gc.isenabled(),
    "frozen": gc.get_freeze_count(),
    "modules": sorted(name for name in sys.modules if name.startswith("memkit")),
    "model": sorted(name for name in ("numpy", "tokenizers", "safetensors") if name in sys.modules),
}))
"""


def cold_first_request(tmp_path: Path, **env: str) -> dict[str, Any]:
    """A fresh interpreter imports the handler and serves one ``listThreads`` event with the
    ApiFunction's kind of environment (plus ``env``); what it answered and loaded."""
    child_env = {key: value for key, value in os.environ.items() if not key.startswith(("MEMKIT_", "AWS_"))}
    child_env.update(
        {
            "MEMKIT_STORAGE_URL": f"file:{tmp_path / 'memkit.db'}",
            "MEMKIT_AUTH": "api-key",
            "MEMKIT_API_KEY": "cold-path",
            "MEMKIT_JOBS": "sqs",
            "MEMKIT_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/cold-path",
            "AWS_DEFAULT_REGION": "us-east-1",
            **env,
        }
    )
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(REPO_ROOT / "functions" / "api" / "app.py"), str(REPO_ROOT / "tests" / "support")],
        env=child_env, capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    outcome: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["status"] == 200
    return outcome


def test_the_first_list_threads_request_loads_only_its_own_route(tmp_path: Path) -> None:
    outcome = cold_first_request(tmp_path)
    loaded = set(outcome["modules"])
    assert {"memkit.operations.calls", "memkit.operations.args.threads"} <= loaded  # the scan sees the route's own
    # Other families' argument models, the job handlers (the worker's), recall and the cache
    # stay unloaded until a request needs them.
    assert not loaded & {
        "memkit.operations.args.messages",
        "memkit.operations.args.resources",
        "memkit.memory.jobs",
        "memkit.jobs.types",
        "memkit.memory.search",
        "memkit.cache.cached_store",
        "memkit.api.openapi",
        "memkit.formats",  # provider message formats are for library users, never a request
        "memkit.integrations",  # agent-framework sessions (Strands, OpenAI Agents): agents' side
        # Recall and indexing, titles and models, and the other storage domains (built by the
        # runtime on first access): nothing of them serves a thread listing.
        "memkit.memory.recall",
        "memkit.memory.indexing",
        "memkit.titles.job",
        "memkit.llm.factory",
        "memkit.storage.workflows.libsql",
        "memkit.storage.scores.libsql",
        "memkit.storage.observability.libsql",
        "memkit.storage.datasets.libsql",
    }
    # The collector was off while the handler was imported, and the first invocation froze
    # what the init built and turned it back on (memkit.lambda_lifecycle).
    assert outcome["collecting during init"] is False
    assert outcome["frozen"] > 0
    assert outcome["collecting after"] is True


def test_a_request_that_embeds_nothing_loads_neither_numpy_nor_the_local_model(tmp_path: Path) -> None:
    # Given vectors and the local semantic embedder (the default), so the agent's Memory is built with them
    outcome = cold_first_request(tmp_path, MEMKIT_VECTOR_URL=f"file:{tmp_path / 'memkit.db'}")
    # Then a request that embeds nothing imports neither numpy nor the model's code
    assert "memkit.embedders.local" in outcome["modules"]
    assert "memkit.embedders.bert" not in outcome["modules"]
    assert outcome["model"] == []


def test_a_cold_list_threads_on_dynamodb_loads_the_threads_part_of_the_store_only(
    tmp_path: Path, dynamodb_endpoint: str
) -> None:
    # Given the API function on DynamoDB, as deployed (the table made here, as a deployment's is)
    outcome = cold_first_request(
        tmp_path,
        **stack.LOCAL_AWS_ENVIRONMENT,
        MEMKIT_STORAGE_URL="dynamodb://memkit-cold-path",
        MEMKIT_CREATE_TABLES="1",
        AWS_ENDPOINT_URL_DYNAMODB=dynamodb_endpoint,
    )
    loaded = set(outcome["modules"])

    # Then the store's facade built only the part that lists threads
    assert {"memkit.storage.memory.dynamodb.store", "memkit.storage.memory.dynamodb.threads"} <= loaded
    assert not loaded & {
        "memkit.storage.memory.dynamodb.message_reads",
        "memkit.storage.memory.dynamodb.message_writes",
        "memkit.storage.memory.dynamodb.resources",
        "memkit.storage.memory.dynamodb.clone",
        "memkit.storage.workflows.dynamodb",
        "memkit.storage.scores.dynamodb",
        "memkit.storage.observability.dynamodb",
        "memkit.storage.datasets.dynamodb",
        "memkit.storage.libsql.database",  # nor the embedded store's file handling
    }
