"""Trim an installed botocore to the AWS services memkit calls (run by layers/Makefile).

Why: building the first client is most of a cold start's AWS cost, and most of that is
botocore's data, not its code. ``create_client`` lists every service directory under
``botocore/data`` (about 450, twice: once per model type it loads) and parses
``endpoints.json`` (1.2 MB, every service in every partition). Measured on the dev machine,
creating the DynamoDB client took 48 ms with the full data and 14 ms with only these
services; the layer also shrinks by about 20 MB.

What stays: the services below and the shared data files, with ``endpoints.json`` cut down to
those services' entries. The partitions, regions and defaults are untouched, so a kept service
resolves exactly the endpoints it did before (a service with no entry of its own, like
bedrock-runtime, already resolved through the partition defaults). Any other service fails in
``create_client`` with botocore's ``UnknownServiceError``.

The kept service models lose their ``documentation`` strings, which botocore reads only to
build docstrings: DynamoDB's model is 556 KB of JSON with them and 113 KB without, and
decompressing and parsing it is a third of creating the client.

Usage: ``python slim_botocore.py SITE_PACKAGES_DIR``
"""

from __future__ import annotations

import gzip
import json
import shutil
import sys
from pathlib import Path

# Every AWS service the library or the handlers build a client for. A test scans memkit for
# client construction and fails if a service is missing here.
SERVICES = (
    "dynamodb",  # the store (pynamodb)
    "sqs",  # the job queue
    "bedrock-runtime",  # titles and embeddings on Bedrock
    "ssm",  # settings given as ssm: references (Powertools Parameters)
    "secretsmanager",  # settings given as secretsmanager: references
    "sts",  # botocore's assume-role and web-identity credential providers
)


DOCUMENTATION_KEYS = frozenset({"documentation", "documentationUrl"})


def _service_model_paths(service_dir: Path) -> list[Path]:
    """Every API version's service-2 model (plain or gzipped, as botocore ships it), newest last."""
    paths = sorted(service_dir.glob("*/service-2.json")) + sorted(service_dir.glob("*/service-2.json.gz"))
    if not paths:
        raise SystemExit(f"no service-2 model in {service_dir}")
    return sorted(paths, key=lambda path: path.parent.name)


def _read_model(path: Path) -> dict:
    with (gzip.open if path.suffix == ".gz" else open)(path, "rt", encoding="utf-8") as model:
        return json.load(model)


def _write_model(path: Path, model: dict) -> None:
    text = json.dumps(model, separators=(",", ":"))
    if path.suffix == ".gz":
        # mtime=0: the same input builds a byte-identical layer.
        with gzip.GzipFile(path, "wb", mtime=0) as compressed:
            compressed.write(text.encode("utf-8"))
    else:
        path.write_text(text, encoding="utf-8")


def _without_documentation(node: object) -> object:
    if isinstance(node, dict):
        return {key: _without_documentation(value) for key, value in node.items() if key not in DOCUMENTATION_KEYS}
    if isinstance(node, list):
        return [_without_documentation(value) for value in node]
    return node


def slim(site: Path, services: tuple[str, ...] = SERVICES) -> list[str]:
    """Trim ``site``'s botocore in place; returns the endpoint prefixes kept in endpoints.json."""
    data = site / "botocore" / "data"
    if not data.is_dir():
        raise SystemExit(f"{data} does not exist: install botocore into {site} first")
    missing = [service for service in services if not (data / service).is_dir()]
    if missing:
        raise SystemExit(f"botocore in {site} has no model for {', '.join(missing)}")

    for entry in data.iterdir():
        if entry.is_dir() and entry.name not in services:
            shutil.rmtree(entry)
    prefixes: set[str] = set()
    for service in services:
        paths = _service_model_paths(data / service)
        for path in paths:
            model = _read_model(path)
            _write_model(path, _without_documentation(model))  # type: ignore[arg-type]
        prefixes.add(model["metadata"]["endpointPrefix"])  # the newest version's

    endpoints_path = data / "endpoints.json"
    endpoints = json.loads(endpoints_path.read_text(encoding="utf-8"))
    for partition in endpoints["partitions"]:
        partition["services"] = {
            name: entry for name, entry in partition["services"].items() if name in prefixes
        }
    endpoints_path.write_text(json.dumps(endpoints, separators=(",", ":")), encoding="utf-8")
    return sorted(prefixes)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    site = Path(argv[1])
    prefixes = slim(site)
    print(f"botocore in {site}: kept {', '.join(SERVICES)} (endpoint entries: {', '.join(prefixes)})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
