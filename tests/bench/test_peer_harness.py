"""``make bench``'s side-by-side section works end to end, cheaply: Mastra's pinned server and
memkit's start, the client-js driver runs a turn against each (the driver checks every reply:
20 messages listed, the working memory written at setup, the saved ids echoed), and on DynamoDB
the proxy sees each server's requests. The measurements themselves are the bench's business;
here only that they exist and add up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.peer.harness import Target, drive, start_mastra, start_memkit
from infra.local import stack

pytestmark = [pytest.mark.node, pytest.mark.slow]

TURN_CALLS = ("list last 20", "get working memory", "save 2 messages")


@pytest.fixture
def embedded_pair(tmp_path: Path, mastra_peer_dir: Path) -> Iterator[list[Target]]:
    with start_memkit("test-memkit", f"file:{tmp_path / 'memkit.db'}", tmp_path) as memkit:
        with start_mastra("test-mastra", f"file:{tmp_path / 'mastra.db'}") as mastra:
            yield [Target("memkit", memkit.url), Target("Mastra", mastra.url)]


@pytest.fixture
def metered_pair(tmp_path: Path, mastra_peer_dir: Path, dynamodb_meter_service: stack.Service) -> Iterator[list[Target]]:
    meter = dynamodb_meter_service.url
    with start_memkit("test-memkit-ddb", "dynamodb://memkit-peer-test", tmp_path, dynamodb_endpoint=meter) as memkit:
        with start_mastra("test-mastra-ddb", "dynamodb://mastra-peer-test", dynamodb_endpoint=meter) as mastra:
            yield [Target("memkit", memkit.url, meter=meter), Target("Mastra", mastra.url, meter=meter)]


def test_driver_times_a_turn_against_each_server_on_the_embedded_default(embedded_pair: list[Target]) -> None:
    result = drive("latency", embedded_pair, timeout=120, rounds=1, turnsPerRound=1, warmupTurns=0)

    for name in ("memkit", "Mastra"):
        for call in (*TURN_CALLS, "turn"):
            assert result[name][call]["samples"] == 1
            assert result[name][call]["median_ms"] > 0
        assert result[name]["turn"]["median_ms"] >= max(result[name][call]["median_ms"] for call in TURN_CALLS)


@pytest.mark.dynamodb
def test_driver_meters_each_call_of_a_turn_on_dynamodb(metered_pair: list[Target]) -> None:
    result = drive("calls", metered_pair, timeout=120, calls=["turn"])

    for name in ("memkit", "Mastra"):
        calls = result[name]
        for call in TURN_CALLS:
            assert calls[call]["total_requests"] >= 1, (name, call)
            assert calls[call]["total_requests"] == sum(calls[call]["requests"].values())
        assert calls["save 2 messages"]["write_units"] > 0, name
        assert calls["list last 20"]["read_units"] > 0, name
        turn = calls["whole turn"]
        assert turn["total_requests"] == sum(calls[call]["total_requests"] for call in TURN_CALLS)
        assert turn["write_units"] == sum(calls[call]["write_units"] for call in TURN_CALLS)
