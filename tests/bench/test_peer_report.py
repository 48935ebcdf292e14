"""The side-by-side report says what the numbers say: a target is met only when the measurement
meets it, ratios favour memkit above 1, and the cost follows the counted units and list prices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.peer import report

TURN_CALLS = report.TURN_CALLS


def latency(call_ms: float) -> dict[str, Any]:
    calls = {call: {"median_ms": call_ms, "samples": 20} for call in TURN_CALLS}
    return {**calls, "turn": {"median_ms": 3 * call_ms, "samples": 20}}


def load(turns_per_s: float, p99_ms: float) -> dict[str, Any]:
    return {"turns_per_s": turns_per_s, "p50_ms": p99_ms / 2, "p99_ms": p99_ms, "turns": 100, "users": 16}


def metered(requests: dict[str, int], read_units: float, write_units: float, **extra: Any) -> dict[str, Any]:
    return {
        "requests": requests,
        "total_requests": sum(requests.values()),
        "read_units": read_units,
        "write_units": write_units,
        "errors": 0,
        **extra,
    }


def turn_of(list_: dict[str, Any], working_memory: dict[str, Any], save: dict[str, Any]) -> dict[str, Any]:
    parts = (list_, working_memory, save)
    requests: dict[str, int] = {}
    for part in parts:
        for operation, count in part["requests"].items():
            requests[operation] = requests.get(operation, 0) + count
    extra = {"cache_commands": sum(p["cache_commands"] for p in parts)} if "cache_commands" in save else {}
    return {
        **metered(requests, sum(p["read_units"] for p in parts), sum(p["write_units"] for p in parts), **extra),
        "calls": 3,
    }


def calls_for(list_: dict[str, Any], working_memory: dict[str, Any], save: dict[str, Any]) -> dict[str, Any]:
    return {
        "list last 20": list_,
        "get working memory": working_memory,
        "save 2 messages": save,
        "whole turn": turn_of(list_, working_memory, save),
    }


def results(*, memkit_ms: float, memkit_turns: float, memkit_turn_requests: int, memkit_save_units: float) -> dict[str, Any]:
    """A run where Mastra's calls take 10 ms, it serves 100 turns/s with p99 50 ms, and a turn costs it 9 requests and 12 units."""
    mastra = calls_for(
        metered({"GetItem": 2, "Query": 1}, 4.5, 0),
        metered({"GetItem": 2}, 1, 0),
        metered({"GetItem": 1, "PutItem": 2, "UpdateItem": 1}, 0.5, 6),
    )
    extra_reads = {"GetItem": memkit_turn_requests - 2} if memkit_turn_requests > 2 else {}
    memkit = calls_for(
        metered({"Query": 1}, 2, 0),
        metered(extra_reads, 1, 0),
        metered({"TransactWriteItems": 1}, 0, memkit_save_units),
    )
    cached = calls_for(
        metered({}, 0, 0, cache_commands=1),
        metered({}, 0, 0, cache_commands=1),
        metered({"TransactWriteItems": 1}, 0, memkit_save_units, cache_commands=2),
    )
    return {
        "date": "2026-01-01",
        "cpus": 2,
        "load_before": 0.5,
        "load_after": 1.5,
        "embedded": {
            "latency": {"memkit": latency(memkit_ms), "Mastra": latency(10)},
            "load": {"memkit": load(memkit_turns, 40), "Mastra": load(100, 50)},
        },
        "dynamodb": {
            "latency": {"memkit": latency(memkit_ms), "Mastra": latency(10)},
            "load": {"memkit": load(memkit_turns, 40), "Mastra": load(100, 50)},
        },
        "calls": {"memkit": memkit, "memkit, titles on": memkit, "memkit + Upstash cache": cached, "Mastra": mastra},
    }


def verdicts(run: dict[str, Any]) -> list[str]:
    return [row["verdict"] for row in report.verdict_rows(run)]


def test_every_target_is_reported_unmet_when_memkit_falls_short() -> None:
    run = results(memkit_ms=8, memkit_turns=90, memkit_turn_requests=4, memkit_save_units=28)

    assert verdicts(run) == ["NOT MET", "NOT MET", "NOT MET", "NOT MET"]


def test_targets_are_met_when_the_measurements_meet_them() -> None:
    run = results(memkit_ms=4, memkit_turns=160, memkit_turn_requests=3, memkit_save_units=6)

    assert verdicts(run) == ["met (aim reached)", "met", "met", "met"]


def test_throughput_above_mastras_but_short_of_the_aim_is_met_with_the_aim_named() -> None:
    run = results(memkit_ms=4, memkit_turns=120, memkit_turn_requests=3, memkit_save_units=6)

    assert verdicts(run)[0] == "met (aim 1.5× not yet)"


def test_ratios_favour_memkit_above_one_for_times_throughput_and_units() -> None:
    run = results(memkit_ms=5, memkit_turns=200, memkit_turn_requests=3, memkit_save_units=6)

    speed = {(row["storage"], row["measure"]): row["memkit's advantage"] for row in report.speed_rows(run)}
    assert speed[("DynamoDB Local", "list last 20, median ms")] == "2.00×"
    assert speed[("embedded (libSQL file)", "16 concurrent users: turns/s")] == "2.00×"
    work = {row["call"]: row for row in report.work_rows(run["calls"])}
    assert work["save 2 messages"]["fewer requests"] == "4.00×"
    assert work["save 2 messages"]["memkit requests"] == "1 (TransactWriteItems)"
    assert work["save 2 messages"]["Mastra requests"] == "4 (GetItem, 2 PutItem, UpdateItem)"


def test_the_tables_say_how_busy_the_machine_was() -> None:
    run = results(memkit_ms=8, memkit_turns=90, memkit_turn_requests=4, memkit_save_units=28)

    (speed_title, _), *_ = report.tables(run)

    assert "2 cores, load average 0.5 before and 1.5 after" in speed_title


def test_cost_follows_counted_units_and_list_prices() -> None:
    turn = metered({"Query": 1, "TransactWriteItems": 1}, read_units=4, write_units=28, cache_commands=5)

    cost = report.turn_cost(turn, call_ms=10, memory_mb=1024)

    assert cost["DynamoDB reads"] == pytest.approx(4 * 0.125 / 1e6 * 1000)
    assert cost["DynamoDB writes"] == pytest.approx(28 * 0.625 / 1e6 * 1000)
    assert cost["Lambda duration"] == pytest.approx(3 * 0.010 * 1.0 * 0.0000133334 * 1000)
    assert cost["API Gateway"] == pytest.approx(3 * 1.00 / 1e6 * 1000)
    assert cost["Upstash"] == pytest.approx(5 * 0.20 / 1e5 * 1000)
    assert cost["SQS"] == 0


def test_lambda_memory_is_read_from_the_templates_function_globals(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text("Globals:\n  Function:\n    Runtime: python3.13\n    MemorySize: 512\n")

    assert report.lambda_memory_mb(template) == 512
