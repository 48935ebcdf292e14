"""Fixtures for the bench's own harness: the counting proxy and Mastra's pinned packages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local import dynamodb_meter, stack


@pytest.fixture(scope="session")
def dynamodb_meter_service(dynamodb_local: stack.Service) -> Iterator[stack.Service]:
    """The counting proxy in front of the session's DynamoDB Local."""
    service = dynamodb_meter.start(dynamodb_local.url)
    yield service
    service.stop()


@pytest.fixture(scope="session")
def mastra_peer_dir() -> Path:
    from bench.peer.harness import ensure_installed

    return ensure_installed()
