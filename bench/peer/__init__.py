"""memkit beside Mastra (`make bench BENCH_ARGS=peer`): one client-js scenario against both servers.

The unmodified ``@mastra/client-js`` (bench/peer/driver.mjs) drives memkit's server as ``make run``
starts it and Mastra's own server (bench/peer/mastra_server.mjs: ``@mastra/core``,
``@mastra/memory`` and the Hono adapter), agents configured alike, on the same machine in the
same run, alternating between them:

- on each one's **embedded default**: memkit on a libSQL file, Mastra's LibSQLStore on a file;
- on **DynamoDB Local**: memkit's table and Mastra's DynamoDBStore single table;
- on DynamoDB Local **through the counting proxy** (infra/local/dynamodb_meter.py), one call at a
  time: the DynamoDB requests and capacity units each call costs, seen from outside both servers.
  Latencies are measured without the proxy, which would add a hop per request.

Only ratios are compared: the machine is shared and absolute times move between runs. Raw
results go to ``.cache/peer-results.json``; ``report`` turns them into the tables and verdicts.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from infra.local import dynamodb_meter, stack
from bench.peer import report
from bench.peer.harness import Target, drive, ensure_installed, start_mastra, start_memkit

RESULTS_PATH = stack.CACHE_DIR / "peer-results.json"
MEMKIT_TABLE = "memkit-peer"
MASTRA_TABLE = "mastra-peer"

# Sized to keep the section to a few minutes on a 2-core machine.
LATENCY = {"rounds": 3, "turnsPerRound": 20, "warmupTurns": 5}
LOAD = {"rounds": 3, "users": 16, "seconds": 4, "warmupSeconds": 1}


def _pair(memkit: stack.Service, mastra: stack.Service) -> list[Target]:
    return [Target("memkit", memkit.url), Target("Mastra", mastra.url)]


def measure(services: Any) -> dict[str, Any]:
    """Every measurement of the section, as the driver reported it (see ``report`` for the shape)."""
    ensure_installed()
    # Other processes on the machine shift the ratios (Node's single event loop suffers more from
    # them than memkit's server does), so the run says how busy the machine was.
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(), "load_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="memkit-peer-") as scratch:
        workdir = Path(scratch)

        with contextlib.ExitStack() as running:
            memkit = running.enter_context(start_memkit("memkit-libsql", f"file:{workdir / 'memkit.db'}", workdir))
            mastra = running.enter_context(start_mastra("mastra-libsql", f"file:{workdir / 'mastra.db'}"))
            targets = _pair(memkit, mastra)
            results["embedded"] = {"latency": drive("latency", targets, **LATENCY), "load": drive("load", targets, **LOAD)}

        dynamodb = services.dynamodb
        with contextlib.ExitStack() as running:
            memkit = running.enter_context(
                start_memkit("memkit-dynamodb", f"dynamodb://{MEMKIT_TABLE}", workdir, dynamodb_endpoint=dynamodb.url)
            )
            mastra = running.enter_context(
                start_mastra("mastra-dynamodb", f"dynamodb://{MASTRA_TABLE}", dynamodb_endpoint=dynamodb.url)
            )
            targets = _pair(memkit, mastra)
            results["dynamodb"] = {"latency": drive("latency", targets, **LATENCY), "load": drive("load", targets, **LOAD)}

        with contextlib.ExitStack() as running:
            meter = running.enter_context(dynamodb_meter.start(dynamodb.url))
            memkit = running.enter_context(
                start_memkit("memkit-metered", f"dynamodb://{MEMKIT_TABLE}", workdir, dynamodb_endpoint=meter.url)
            )
            mastra = running.enter_context(
                start_mastra("mastra-metered", f"dynamodb://{MASTRA_TABLE}", dynamodb_endpoint=meter.url)
            )
            cached = running.enter_context(
                start_memkit(
                    "memkit-metered-cached",
                    f"dynamodb://{MEMKIT_TABLE}",
                    workdir,
                    dynamodb_endpoint=meter.url,
                    extra_env={**services.upstash.env, "MEMKIT_CACHE": "upstash"},
                )
            )
            results["calls"] = drive(
                "calls",
                [
                    Target("memkit", memkit.url, meter=meter.url),
                    Target("memkit, titles on", memkit.url, agent_id="titled", meter=meter.url, calls=("turn",)),
                    Target("memkit + Upstash cache", cached.url, meter=meter.url, redis_port=services.redis.port, calls=("turn",)),
                    Target("Mastra", mastra.url, meter=meter.url),
                ],
            )
    results["load_after"] = os.getloadavg()[0]
    RESULTS_PATH.write_text(json.dumps(results, indent=1))
    return results


def run(services: Any) -> list[tuple[str, list[dict[str, Any]]]]:
    return report.tables(measure(services))
