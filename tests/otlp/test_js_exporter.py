"""The OpenTelemetry JS SDK's OTLP/HTTP exporter, which sends OTLP/JSON, against the
ingestion (Node 22, packages installed once into .cache/otel-js)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from infra.local import stack

from tests.otlp.sdk import unique_agent

SCRIPT = Path(__file__).parent / "js_exporter.mjs"
# Versions that go together (the exporter is still 0.x, and its API changes between minors).

pytestmark = pytest.mark.node


@pytest.fixture(scope="session")
def otel_js_dir() -> Path:
    return stack.ensure_otel_js()


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_the_js_sdk_exporter_sends_otlp_json_that_maps_like_protobuf(otlp_endpoint, node22, otel_js_dir, compression):
    agent_id = unique_agent()
    before = len(otlp_endpoint.exchanges)

    sent = subprocess.run(
        [str(node22), str(SCRIPT)],
        env={**os.environ, "OTLP_URL": otlp_endpoint.url, "OTEL_JS_DIR": str(otel_js_dir), "AGENT_ID": agent_id, "COMPRESSION": compression},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert sent.returncode == 0, sent.stderr
    outcome = json.loads(sent.stdout.strip().splitlines()[-1])
    assert outcome["code"] == 0, "the exporter reported success"
    [exchange] = otlp_endpoint.exchanges[before:]
    assert exchange.content_type.startswith("application/json")
    assert exchange.content_encoding == (None if compression == "none" else "gzip")
    assert (exchange.status, exchange.response) == (200, b"{}")
    spans = {span.span_type: span for span in exchange.result.spans}
    run, chat = spans["agent_run"], spans["model_generation"]
    assert (run.trace_id, run.span_id) == (outcome["traceId"], outcome["runId"])
    assert (run.entity_id, chat.parent_span_id) == (agent_id, run.span_id)
    assert chat.attributes == {"model": "claude-sonnet", "provider": "anthropic", "usage": {"inputTokens": 11, "outputTokens": 3}}
    assert chat.input == [{"role": "user", "parts": [{"type": "text", "content": "plan"}]}]
    assert chat.error == {"message": "overloaded"}
    assert chat.metadata["otel.span.kind"] == "client"
    assert [(event["name"], event["attributes"]) for event in chat.metadata["otel.events"]] == [("first token", {"ttft.ms": 120.5})]
    assert run.model_extra["serviceName"] == "js-agent"
