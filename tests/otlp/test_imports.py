"""Protobuf is loaded by a protobuf request only: a JSON request, and importing the ingestion
at all, leave it (and every opentelemetry module) unloaded. Checked in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from tests.otlp.payloads import request, span
from tests.otlp.sdk import agent_turn, record, unique_agent

CHILD = r"""
import json, sys
def loaded():
    return sorted(name for name in sys.modules if name.startswith(("google.protobuf", "opentelemetry")))
from memkit.otlp import ingest_otlp
after_import = loaded()
json_body, protobuf_body = sys.stdin.buffer.read().split(b"\n--protobuf--\n")
ingest_otlp(json_body, "application/json")
after_json = loaded()
ingest_otlp(protobuf_body, "application/x-protobuf")
print(json.dumps({"import": after_import, "json": after_json, "protobuf": loaded()}))
"""


def test_only_a_protobuf_request_loads_protobuf():
    json_body = json.dumps(request(span())).encode()
    protobuf_body = encode_spans(record(agent_turn(unique_agent()))).SerializeToString()

    child = subprocess.run(
        [sys.executable, "-c", CHILD],
        input=json_body + b"\n--protobuf--\n" + protobuf_body,
        capture_output=True,
        timeout=60,
        check=True,
    )
    loaded = json.loads(child.stdout)

    assert loaded["import"] == [] and loaded["json"] == []
    assert "google.protobuf" in loaded["protobuf"]
    assert "opentelemetry.proto.collector.trace.v1.trace_service_pb2" in loaded["protobuf"]
