"""The operations function's Lambda handler (``functions/operations/app.py``): one event in, the
operation's outcome and its metrics out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from memkit.settings import get_settings
from tests.api.support import OPS_HANDLER_PATH, load_module, uid
from tests.support.lambda_events import LambdaContext


@pytest.fixture
def ops_handler(storage_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "memkit-ops")
    monkeypatch.setenv("MEMKIT_STORAGE_URL", storage_url)
    # What template.yaml gives the ops function: no auth settings (it serves no HTTP).
    monkeypatch.delenv("MEMKIT_AUTH", raising=False)
    monkeypatch.delenv("MEMKIT_API_KEY", raising=False)
    get_settings.cache_clear()
    module = load_module(OPS_HANDLER_PATH, "memkit_ops_handler")
    yield module
    module.runtime.close()
    get_settings.cache_clear()


def test_ops_lambda_handler(ops_handler: Any, capsys: pytest.CaptureFixture[str]) -> None:
    resource_id = uid("res")
    created = ops_handler.handler({"op": "createThread", "args": {"resourceId": resource_id}}, LambdaContext())
    failed = ops_handler.handler({"op": "getThread", "args": {"threadId": uid("thr")}}, LambdaContext())

    assert created["ok"] is True and created["result"]["resourceId"] == resource_id
    assert failed == {"ok": False, "status": 404, "error": "Thread not found"}
    emitted = capsys.readouterr().out
    assert '"OperationErrors":[1.0]' in emitted and '"op":"getThread"' in emitted
