"""The parts of the side-by-side run: Mastra's packages, the two servers, and the client-js driver.

Mastra's packages are installed with Node 22's npm from ``bench/peer/package.json`` and its lock
(exact versions, ``npm ci``, no install scripts) into ``.cache/mastra-peer``, once per change of
those files and under a lock, as ``infra.local.stack`` installs @mastra/client-js for the tests.
Servers are ``infra.local.stack.Service`` processes, so they stop with the run whatever happens.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.local import stack

PEER_DIR = Path(__file__).resolve().parent
INSTALL_DIR = stack.CACHE_DIR / "mastra-peer"
MANIFESTS = ("package.json", "package-lock.json")
DRIVER = PEER_DIR / "driver.mjs"
MASTRA_SERVER = PEER_DIR / "mastra_server.mjs"

# memkit's side of the scenario, configured like Mastra's agent in mastra_server.mjs. "titled"
# is the same agent with generated titles on, for the request budget that must hold either way.
MEMKIT_AGENTS = """
[agents.default]
lastMessages = 20
generateTitle = false
workingMemory = { enabled = true, scope = "resource" }

[agents.titled]
lastMessages = 20
generateTitle = true
workingMemory = { enabled = true, scope = "resource" }
"""


def _manifest_digest() -> str:
    digest = hashlib.sha256()
    for name in MANIFESTS:
        digest.update((PEER_DIR / name).read_bytes())
    return digest.hexdigest()


def ensure_installed() -> Path:
    """``.cache/mastra-peer`` with bench/peer's pinned packages installed (again when the manifests change)."""
    stamp = INSTALL_DIR / ".manifest-sha256"
    wanted = _manifest_digest()

    def copy_manifests(folder: Path) -> None:
        for name in MANIFESTS:
            shutil.copyfile(PEER_DIR / name, folder / name)
        (folder / stamp.name).write_text(wanted)

    return stack.install_node_packages(
        INSTALL_DIR,
        ["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
        prepare=copy_manifests,
        installed=lambda: stamp.is_file() and stamp.read_text() == wanted,
        log_name="mastra-peer",
        what="npm ci (bench/peer/package.json)",
    )


@dataclass(frozen=True)
class Target:
    """One server as the driver sees it."""

    name: str
    url: str
    agent_id: str = "default"
    meter: str | None = None
    redis_port: int | None = None
    calls: tuple[str, ...] | None = None

    def for_driver(self) -> dict[str, Any]:
        described: dict[str, Any] = {"name": self.name, "url": self.url, "agentId": self.agent_id}
        if self.meter:
            described["meter"] = f"{self.meter}/_meter"
        if self.redis_port:
            described["redisPort"] = self.redis_port
        if self.calls:
            described["calls"] = list(self.calls)
        return described


def start_memkit(
    name: str, storage_url: str, workdir: Path, *, dynamodb_endpoint: str | None = None, extra_env: dict[str, str] | None = None
) -> stack.Service:
    """``make run``'s server (``python -m infra.local.run``: uvicorn, one process) on a free port."""
    config = workdir / "memkit-agents.toml"
    config.write_text(MEMKIT_AGENTS)
    port = stack.free_port()
    env = {
        "MEMKIT_PORT": str(port),
        "MEMKIT_STORAGE_URL": storage_url,
        "MEMKIT_CONFIG": str(config),
        "MEMKIT_AUTH": "none",
        "MEMKIT_CACHE": "none",
        "MEMKIT_CREATE_TABLES": "1",
        # No recall configured, so no vector store either (make run would open one in the file).
        "MEMKIT_VECTOR_URL": "none",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(stack.REPO_ROOT), os.environ.get("PYTHONPATH")])),
        **({"AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint} if dynamodb_endpoint else {}),
        **(extra_env or {}),
    }
    return stack.Service(
        name=f"peer-{name}",
        argv=[sys.executable, "-m", "infra.local.run"],
        port=port,
        url=f"http://{stack.LOOPBACK}:{port}",
        ready=stack.answers_http,
        cwd=stack.REPO_ROOT,
        child_env=env,
        startup_timeout=60.0,
    ).start()


def start_mastra(name: str, storage_url: str, *, dynamodb_endpoint: str | None = None) -> stack.Service:
    """Mastra's server (bench/peer/mastra_server.mjs) on Node 22, on a free port."""
    install = ensure_installed()
    port = stack.free_port()
    argv: list[str | Path] = [stack.ensure_node22(), MASTRA_SERVER, "--port", str(port), "--storage", storage_url]
    if dynamodb_endpoint:
        argv += ["--endpoint", dynamodb_endpoint]
    return stack.Service(
        name=f"peer-{name}",
        argv=[str(arg) for arg in argv],
        port=port,
        url=f"http://{stack.LOOPBACK}:{port}",
        ready=stack.answers_http,
        cwd=stack.CACHE_DIR / "run",
        child_env={"MASTRA_PEER_DIR": str(install)},
        startup_timeout=90.0,
    ).start()


class DriverError(RuntimeError):
    """The client-js driver failed: a server answered wrongly or not at all."""


def drive(mode: str, targets: list[Target], timeout: float = 600, **options: Any) -> dict[str, Any]:
    """Run driver.mjs in ``mode`` against ``targets``; its result, by target name."""
    install = ensure_installed()
    config = {"mode": mode, "targets": [target.for_driver() for target in targets], **options}
    completed = subprocess.run(
        [str(stack.ensure_node22()), str(DRIVER), json.dumps(config)],
        env={**os.environ, "MASTRA_PEER_DIR": str(install)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise DriverError(f"driver {mode} exited {completed.returncode}:\n{completed.stderr[-4000:]}")
    return json.loads(completed.stdout)["result"]
