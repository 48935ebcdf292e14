"""The layer's botocore, trimmed by ``layers/slim_botocore.py``: every service memkit calls still
builds a client (with the same endpoints), nothing else does, and the list of services cannot
fall behind the code that builds clients."""

from __future__ import annotations

import ast
import gzip
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
MEMKIT_SOURCE = REPO_ROOT / "layers" / "memkit"


def _load_slim_module():
    spec = importlib.util.spec_from_file_location("slim_botocore", REPO_ROOT / "layers" / "slim_botocore.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


slim_botocore = _load_slim_module()


def _installed(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent


@pytest.fixture(scope="module")
def slim_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("layer") / "python"
    for package in ("boto3", "botocore", "s3transfer"):
        shutil.copytree(_installed(package), site / package, ignore=shutil.ignore_patterns("__pycache__"))
    slim_botocore.slim(site)
    return site


def _in_slim_site(site: Path, code: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(site),
        "AWS_ACCESS_KEY_ID": "layer-test",
        "AWS_SECRET_ACCESS_KEY": "layer-test",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
    env = {key: value for key, value in env.items() if not key.startswith("AWS_ENDPOINT_URL")}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)


def test_only_the_services_memkit_calls_keep_their_models(slim_site: Path) -> None:
    data = slim_site / "botocore" / "data"
    assert sorted(path.name for path in data.iterdir() if path.is_dir()) == sorted(slim_botocore.SERVICES)
    endpoints = json.loads((data / "endpoints.json").read_text())
    for partition in endpoints["partitions"]:
        assert set(partition["services"]) <= {"dynamodb", "sqs", "ssm", "secretsmanager", "sts", "bedrock-runtime"}
    # The partitions themselves (regions, DNS suffixes, defaults) are all still there.
    original = json.loads((_installed("botocore") / "data" / "endpoints.json").read_text())
    assert [p["partition"] for p in endpoints["partitions"]] == [p["partition"] for p in original["partitions"]]
    assert [p["regions"] for p in endpoints["partitions"]] == [p["regions"] for p in original["partitions"]]


def test_the_kept_models_lose_their_documentation_and_nothing_else(slim_site: Path) -> None:
    (slimmed_path,) = (slim_site / "botocore" / "data" / "dynamodb").glob("*/service-2.json.gz")
    original_path = _installed("botocore") / "data" / "dynamodb" / slimmed_path.parent.name / slimmed_path.name
    slimmed = json.loads(gzip.decompress(slimmed_path.read_bytes()))
    original = json.loads(gzip.decompress(original_path.read_bytes()))
    assert "documentation" not in json.dumps(slimmed)
    assert slimmed == slim_botocore._without_documentation(original)
    assert slimmed["shapes"].keys() == original["shapes"].keys()
    assert slimmed["operations"]["Query"]["input"] == original["operations"]["Query"]["input"]


def test_every_kept_service_builds_a_client_with_its_usual_endpoint(slim_site: Path) -> None:
    code = (
        "import botocore.session, json\n"
        "session = botocore.session.get_session()\n"
        f"print(json.dumps({{s: session.create_client(s).meta.endpoint_url for s in {list(slim_botocore.SERVICES)!r}}}))\n"
    )
    result = _in_slim_site(slim_site, code)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "dynamodb": "https://dynamodb.eu-west-1.amazonaws.com",
        "sqs": "https://sqs.eu-west-1.amazonaws.com",
        "bedrock-runtime": "https://bedrock-runtime.eu-west-1.amazonaws.com",
        "ssm": "https://ssm.eu-west-1.amazonaws.com",
        "secretsmanager": "https://secretsmanager.eu-west-1.amazonaws.com",
        "sts": "https://sts.eu-west-1.amazonaws.com",
    }


def test_a_service_memkit_does_not_call_is_gone(slim_site: Path) -> None:
    code = "import boto3\nboto3.client('s3')\n"
    result = _in_slim_site(slim_site, code)
    assert result.returncode != 0
    assert "UnknownServiceError" in result.stderr


def _services_memkit_builds_clients_for() -> set[str]:
    """Service names passed as the first argument to ``LazyClient(...)`` or ``boto3.client(...)``
    anywhere in memkit."""
    found: set[str] = set()
    for path in MEMKIT_SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in ("LazyClient", "client", "create_client") and isinstance(node.args[0], ast.Constant):
                if isinstance(node.args[0].value, str):
                    found.add(node.args[0].value)
    return found


def test_the_kept_services_cover_every_client_memkit_builds() -> None:
    built = _services_memkit_builds_clients_for()
    # The scan finds the adapters' clients (a scan that found nothing would prove nothing)...
    assert {"sqs", "bedrock-runtime"} <= built
    # ...and these are built by libraries on memkit's behalf: pynamodb for the store,
    # Powertools Parameters for ssm:/secretsmanager: settings.
    assert built | {"dynamodb", "ssm", "secretsmanager"} <= set(slim_botocore.SERVICES)


def test_slimming_a_site_without_botocore_fails_loudly(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="does not exist"):
        slim_botocore.slim(tmp_path)
