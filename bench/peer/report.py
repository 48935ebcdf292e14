"""The side-by-side tables, the verdict per target, and the cost of 1,000 agent turns on AWS.

Input is what ``bench.peer.measure`` collected (also saved in ``.cache/peer-results.json``, so
``python -m bench.peer.report`` prints the tables again without measuring). Every ratio is
written so that above 1 favours memkit: Mastra's time over memkit's, memkit's throughput over
Mastra's, Mastra's requests or capacity units over memkit's.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

Rows = list[dict[str, Any]]

TURN_CALLS = ("list last 20", "get working memory", "save 2 messages")
STORAGES = {"embedded": "embedded (libSQL file)", "dynamodb": "DynamoDB Local"}

# The targets the comparison is held to.
THROUGHPUT_FLOOR, THROUGHPUT_AIM = 1.0, 1.5
TURN_REQUEST_BUDGET = 3
CALL_SPEEDUP_TARGET = 2.0

# --------------------------------------------------------------------------------------------
# List prices, us-east-1, on-demand, as published on each vendor's pricing page; checked
# 2026-12-04. Change the date with the figures.
PRICES_CHECKED = "2026-12-04"
# DynamoDB on-demand (Standard table class), since the November 2024 reduction.
DYNAMODB_PER_MILLION_WRITE_UNITS = 0.625
DYNAMODB_PER_MILLION_READ_UNITS = 0.125
# Lambda on Arm (the template's Architectures: [arm64]), first duration tier.
LAMBDA_PER_MILLION_REQUESTS = 0.20
LAMBDA_ARM_PER_GB_SECOND = 0.0000133334
# API Gateway HTTP API, first 300 million requests a month (each request up to 512 KB is one).
HTTP_API_PER_MILLION_REQUESTS = 1.00
# SQS standard queue, after the free tier (a job is sent, received and deleted: 3 requests).
SQS_PER_MILLION_REQUESTS = 0.40
SQS_REQUESTS_PER_JOB = 3
# Upstash Redis pay-as-you-go.
UPSTASH_PER_100K_COMMANDS = 0.20
# Amazon Bedrock AgentCore Memory: short-term memory events written, long-term memory retrievals.
AGENTCORE_PER_1000_EVENTS = 0.25
AGENTCORE_PER_1000_RETRIEVALS = 0.50

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


def lambda_memory_mb(template: Path = TEMPLATE) -> int:
    """The functions' MemorySize in template.yaml (Globals), which Lambda bills duration by."""
    found = re.search(r"^\s+MemorySize:\s*(\d+)\s*$", template.read_text(), re.MULTILINE)
    if found is None:
        raise ValueError(f"no MemorySize in {template}")
    return int(found.group(1))


# --------------------------------------------------------------------------------------------
# Formatting


def ratio(favouring_memkit: float, other: float) -> str:
    if not other or not favouring_memkit:
        return "-"
    return f"{favouring_memkit / other:.2f}×"


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def requests_text(call: dict[str, Any]) -> str:
    """``4 (GetItem, 2 PutItem, UpdateItem)``."""
    parts = [f"{n:g} {op}" if n != 1 else op for op, n in sorted(call["requests"].items())]
    return f"{call['total_requests']:g} ({', '.join(parts)})" if parts else "0"


def units_text(call: dict[str, Any]) -> str:
    return f"{call['read_units']:g} R + {call['write_units']:g} W = {units(call):g}"


def units(call: dict[str, Any]) -> float:
    return call["read_units"] + call["write_units"]


# --------------------------------------------------------------------------------------------
# Tables


def speed_rows(results: dict[str, Any]) -> Rows:
    rows: Rows = []
    for storage, label in STORAGES.items():
        latency, load = results[storage]["latency"], results[storage]["load"]
        for call in (*TURN_CALLS, "turn"):
            mine, theirs = latency["memkit"][call]["median_ms"], latency["Mastra"][call]["median_ms"]
            rows.append(
                {
                    "storage": label,
                    "measure": "whole turn (3 calls), median ms" if call == "turn" else f"{call}, median ms",
                    "memkit": ms(mine),
                    "Mastra": ms(theirs),
                    "memkit's advantage": ratio(theirs, mine),
                }
            )
        mine, theirs = load["memkit"], load["Mastra"]
        users = mine["users"]
        rows += [
            {
                "storage": label,
                "measure": f"{users} concurrent users: turns/s",
                "memkit": f"{mine['turns_per_s']:.0f}",
                "Mastra": f"{theirs['turns_per_s']:.0f}",
                "memkit's advantage": ratio(mine["turns_per_s"], theirs["turns_per_s"]),
            },
            {
                "storage": label,
                "measure": f"{users} concurrent users: turn p50 ms",
                "memkit": ms(mine["p50_ms"]),
                "Mastra": ms(theirs["p50_ms"]),
                "memkit's advantage": ratio(theirs["p50_ms"], mine["p50_ms"]),
            },
            {
                "storage": label,
                "measure": f"{users} concurrent users: turn p99 ms",
                "memkit": ms(mine["p99_ms"]),
                "Mastra": ms(theirs["p99_ms"]),
                "memkit's advantage": ratio(theirs["p99_ms"], mine["p99_ms"]),
            },
        ]
    return rows


def work_rows(calls: dict[str, Any]) -> Rows:
    mine, theirs = calls["memkit"], calls["Mastra"]
    rows: Rows = []
    for call in mine:
        rows.append(
            {
                "call": call,
                "memkit requests": requests_text(mine[call]),
                "memkit capacity units": units_text(mine[call]),
                "Mastra requests": requests_text(theirs[call]),
                "Mastra capacity units": units_text(theirs[call]),
                "fewer requests": ratio(theirs[call]["total_requests"], mine[call]["total_requests"]),
                "fewer units": ratio(units(theirs[call]), units(mine[call])),
            }
        )
    for variant in ("memkit, titles on", "memkit + Upstash cache"):
        turn = calls[variant]["whole turn"]
        cache = f", {turn['cache_commands']:g} Upstash commands" if "cache_commands" in turn else ""
        rows.append(
            {
                "call": f"whole turn, {variant}",
                "memkit requests": requests_text(turn) + cache,
                "memkit capacity units": units_text(turn),
                "Mastra requests": requests_text(theirs["whole turn"]),
                "Mastra capacity units": units_text(theirs["whole turn"]),
                "fewer requests": ratio(theirs["whole turn"]["total_requests"], turn["total_requests"]),
                "fewer units": ratio(units(theirs["whole turn"]), units(turn)),
            }
        )
    return rows


def verdict_rows(results: dict[str, Any]) -> Rows:
    load = results["embedded"]["load"]
    throughput = load["memkit"]["turns_per_s"] / load["Mastra"]["turns_per_s"]
    p99_ok = load["memkit"]["p99_ms"] <= load["Mastra"]["p99_ms"]
    if throughput >= THROUGHPUT_AIM and p99_ok:
        first = "met (aim reached)"
    elif throughput >= THROUGHPUT_FLOOR and p99_ok:
        first = f"met (aim {THROUGHPUT_AIM:g}× not yet)"
    else:
        first = "NOT MET"

    calls = results["calls"]
    turn_requests = {name: calls[name]["whole turn"]["total_requests"] for name in ("memkit", "memkit, titles on")}
    second_ok = all(n <= TURN_REQUEST_BUDGET for n in turn_requests.values())

    latency = results["dynamodb"]["latency"]
    speedups = {call: latency["Mastra"][call]["median_ms"] / latency["memkit"][call]["median_ms"] for call in TURN_CALLS}
    third_ok = all(s >= CALL_SPEEDUP_TARGET for s in speedups.values())

    mine, theirs = units(calls["memkit"]["whole turn"]), units(calls["Mastra"]["whole turn"])
    return [
        {
            "target": f"embedded throughput ≥ {THROUGHPUT_FLOOR:g}× Mastra's (aim {THROUGHPUT_AIM:g}×), p99 no worse",
            "measured": f"{throughput:.2f}× turns/s, p99 {ms(load['memkit']['p99_ms'])} vs {ms(load['Mastra']['p99_ms'])} ms",
            "verdict": first,
        },
        {
            "target": f"≤ {TURN_REQUEST_BUDGET} DynamoDB requests per uncached turn, titles off and on",
            "measured": f"{turn_requests['memkit']:g} off, {turn_requests['memkit, titles on']:g} on",
            "verdict": "met" if second_ok else "NOT MET",
        },
        {
            "target": f"each turn call ≥ {CALL_SPEEDUP_TARGET:g}× faster than Mastra on DynamoDB (median)",
            "measured": ", ".join(f"{call} {speed:.2f}×" for call, speed in speedups.items()),
            "verdict": "met" if third_ok else "NOT MET",
        },
        {
            "target": "capacity units per turn ≤ Mastra's",
            "measured": f"{mine:g} vs {theirs:g}",
            "verdict": "met" if mine <= theirs else "NOT MET",
        },
    ]


# --------------------------------------------------------------------------------------------
# Cost


COST_PARTS = (
    "DynamoDB reads",
    "DynamoDB writes",
    "Lambda requests",
    "Lambda duration",
    "API Gateway",
    "SQS",
    "Upstash",
    "AgentCore events",
    "AgentCore retrievals",
)
# A turn in AgentCore Memory's terms: the two saved messages as two short-term events (one per
# message), and the working-memory read as one long-term memory retrieval. Reading recent events
# has no published price of its own.
AGENTCORE_EVENTS_PER_TURN = 2
AGENTCORE_RETRIEVALS_PER_TURN = 1


def turn_cost(turn: dict[str, Any], call_ms: float, memory_mb: int, jobs: float = 0) -> dict[str, float]:
    """Dollars per 1,000 turns, by part, for a turn served by template.yaml's stack.

    ``turn`` is what the turn cost in DynamoDB (and Upstash) as the bench counted it; ``call_ms``
    is the median time of one of its calls, which stands for the duration Lambda bills. Each call
    is one API Gateway request and one Lambda invocation.
    """
    calls = len(TURN_CALLS)
    per_turn = {
        "DynamoDB reads": turn["read_units"] * DYNAMODB_PER_MILLION_READ_UNITS / 1e6,
        "DynamoDB writes": turn["write_units"] * DYNAMODB_PER_MILLION_WRITE_UNITS / 1e6,
        "Lambda requests": calls * LAMBDA_PER_MILLION_REQUESTS / 1e6,
        "Lambda duration": calls * (call_ms / 1000) * (memory_mb / 1024) * LAMBDA_ARM_PER_GB_SECOND,
        "API Gateway": calls * HTTP_API_PER_MILLION_REQUESTS / 1e6,
        "SQS": jobs * SQS_REQUESTS_PER_JOB * SQS_PER_MILLION_REQUESTS / 1e6,
        "Upstash": turn.get("cache_commands", 0) * UPSTASH_PER_100K_COMMANDS / 1e5,
    }
    return {part: dollars * 1000 for part, dollars in per_turn.items()}


def agentcore_cost() -> dict[str, float]:
    return {
        "AgentCore events": AGENTCORE_EVENTS_PER_TURN * AGENTCORE_PER_1000_EVENTS,
        "AgentCore retrievals": AGENTCORE_RETRIEVALS_PER_TURN * AGENTCORE_PER_1000_RETRIEVALS,
    }


def _call_ms(latency: dict[str, Any]) -> float:
    return sum(latency[call]["median_ms"] for call in TURN_CALLS) / len(TURN_CALLS)


def cost_rows(results: dict[str, Any]) -> Rows:
    memory_mb = lambda_memory_mb()
    latency, calls = results["dynamodb"]["latency"], results["calls"]
    memkit_ms, mastra_ms = _call_ms(latency["memkit"]), _call_ms(latency["Mastra"])
    # This agent has no titles and no recall, so a turn queues no job for the worker. The cached
    # variant's calls were not timed; the uncached ones' times overstate its duration.
    columns = {
        "memkit, no cache": (calls["memkit"]["whole turn"], turn_cost(calls["memkit"]["whole turn"], memkit_ms, memory_mb)),
        "memkit + Upstash cache": (
            calls["memkit + Upstash cache"]["whole turn"],
            turn_cost(calls["memkit + Upstash cache"]["whole turn"], memkit_ms, memory_mb),
        ),
        "Mastra's DynamoDB store, same stack": (calls["Mastra"]["whole turn"], turn_cost(calls["Mastra"]["whole turn"], mastra_ms, memory_mb)),
        "AgentCore Memory": (None, agentcore_cost()),
    }
    quantities = {
        "DynamoDB reads": lambda turn: f"{turn['read_units']:g} RRU",
        "DynamoDB writes": lambda turn: f"{turn['write_units']:g} WRU",
        "Upstash": lambda turn: f"{turn.get('cache_commands', 0):g} commands",
    }
    rows: Rows = []
    for part in COST_PARTS:
        row: dict[str, Any] = {"$ per 1,000 turns": part}
        for name, (turn, cost) in columns.items():
            if part not in cost:
                row[name] = "-"
                continue
            quantity = f" ({quantities[part](turn)})" if turn is not None and part in quantities else ""
            row[name] = f"{cost[part]:.4f}{quantity}"
        rows.append(row)
    rows.append({"$ per 1,000 turns": "**total**", **{name: f"**{sum(cost.values()):.4f}**" for name, (_, cost) in columns.items()}})
    rows.append(
        {
            "$ per 1,000 turns": "× memkit's total (no cache)",
            **{
                name: f"{sum(cost.values()) / sum(columns['memkit, no cache'][1].values()):.1f}×"
                for name, (_, cost) in columns.items()
            },
        }
    )
    return rows


def tables(results: dict[str, Any]) -> list[tuple[str, Rows]]:
    return [
        (
            f"memkit beside Mastra, client-js, same machine and run ({results['date']}, {results['cpus']} cores, "
            f"load average {results['load_before']:.1f} before and {results['load_after']:.1f} after; "
            "ratios above 1 favour memkit)",
            speed_rows(results),
        ),
        ("DynamoDB work per call, counted by a proxy in front of DynamoDB Local (R/W = read/write capacity units)", work_rows(results["calls"])),
        ("Targets", verdict_rows(results)),
        (
            f"Cost per 1,000 agent turns on AWS (us-east-1, on-demand list prices of {PRICES_CHECKED}; "
            f"Lambda: {lambda_memory_mb()} MB arm64, each call's median time on DynamoDB Local)",
            cost_rows(results),
        ),
    ]


def main(argv: list[str]) -> int:
    from bench.peer import RESULTS_PATH
    from bench.table import render

    path = Path(argv[0]) if argv else RESULTS_PATH
    for title, rows in tables(json.loads(path.read_text())):
        print(render(title, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
