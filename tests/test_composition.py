"""The startup check (``memkit.composition.check``, run by every ``Runtime``): a deployment that
could not serve is refused when it starts, naming the setting, and the check itself builds
nothing, calls nothing and imports no adapter."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from memkit.config import AgentRegistry, MemoryConfig
from memkit.errors import ConfigurationError
from memkit.runtime import Runtime
from memkit.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]

@pytest.fixture
def no_aws_region(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No region anywhere botocore looks: not in the environment, not in a config file."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    from memkit.clients import aws

    monkeypatch.setattr(aws, "_session", None)  # a fresh session reads the environment above


def agents(**configs: dict) -> AgentRegistry:
    return AgentRegistry({name: MemoryConfig.model_validate(config) for name, config in configs.items()})


@pytest.mark.parametrize(
    ("settings", "registry", "reason"),
    [
        (Settings(storage_url="foo://x"), None, "Unsupported storage URL 'foo://x'"),
        (Settings(storage_url="dynamodb://ab"), None, "needs a table name of 3+ characters"),
        (Settings(), agents(support={"storageUrl": "postgres://db"}), "Unsupported storage URL 'postgres://db'"),
        (Settings(embedder="foo"), None, "MEMKIT_EMBEDDER must be local, lexical, openai/<model> or bedrock/<model-id>, got 'foo'"),
        (Settings(vector_url="redis://x"), None, "MEMKIT_VECTOR_URL must be none, file:<path>"),
        (Settings(vector_url="pinecone://"), None, "needs the index host"),
        (Settings(vector_url="pinecone://index.example"), None, "needs PINECONE_API_KEY"),
        (Settings(default_title_model="gpt-4o"), None, "unsupported model 'gpt-4o'"),
        (Settings(), agents(default={"generateTitle": {"model": "mistral/large"}}), "unsupported model 'mistral/large'"),
        (Settings(jobs="sqs"), None, "MEMKIT_JOBS=sqs needs MEMKIT_QUEUE_URL"),
        (Settings(cache="upstash"), None, "needs UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN"),
    ],
)
def test_a_runtime_refuses_a_deployment_that_could_not_serve(
    settings: Settings, registry: AgentRegistry | None, reason: str
) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(reason)):
        Runtime(settings, registry or AgentRegistry())


@pytest.mark.usefixtures("no_aws_region")
@pytest.mark.parametrize(
    ("settings", "registry", "needed_by"),
    [
        (Settings(storage_url="dynamodb://memkit-table"), None, "storage dynamodb://memkit-table"),
        (Settings(), agents(support={"storageUrl": "dynamodb://support-memory"}), "storage dynamodb://support-memory"),
        (Settings(jobs="sqs", queue_url="https://sqs.example/q"), None, "MEMKIT_JOBS=sqs"),
        (Settings(vector_url=":memory:", embedder="bedrock/amazon.titan-embed-text-v2:0"), None, "MEMKIT_EMBEDDER="),
        (Settings(), agents(default={"generateTitle": {"model": "bedrock/anthropic.claude"}}), "the generateTitle model of agent default"),
        (Settings(api_key="secretsmanager:memkit/key"), None, "MEMKIT_API_KEY (a secretsmanager reference)"),
    ],
)
def test_an_aws_client_without_a_region_is_refused_at_startup(
    settings: Settings, registry: AgentRegistry | None, needed_by: str
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        Runtime(settings, registry or AgentRegistry())
    assert str(refused.value).startswith(needed_by)
    assert str(refused.value).endswith("needs an AWS region: set AWS_REGION")


def test_the_region_may_come_from_where_botocore_looks(monkeypatch: pytest.MonkeyPatch, no_aws_region: None) -> None:
    # Given no AWS_REGION, but the region botocore itself reads (AWS_DEFAULT_REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")

    # Then a DynamoDB deployment starts (the table is not touched until a request needs it)
    Runtime(Settings(storage_url="dynamodb://memkit-table"), AgentRegistry()).close()


def test_a_valid_deployment_starts() -> None:
    settings = Settings(
        storage_url="dynamodb://memkit-table",
        vector_url="pinecone://index.example",
        pinecone_api_key="key",
        embedder="openai/text-embedding-3-small",
        jobs="sqs",
        queue_url="https://sqs.example/q",
        default_title_model="bedrock/anthropic.claude",
        aws_region="eu-west-1",
    )
    Runtime(settings, agents(default={"generateTitle": {"model": "openai/gpt-4o-mini"}, "storageUrl": "file:./x.db"})).close()


CHECK_CHILD = r"""
import json, sys
from memkit.config import AgentRegistry, MemoryConfig
from memkit.runtime import Runtime
from memkit.settings import Settings
settings = Settings(**json.loads(sys.argv[1]))
registry = AgentRegistry({"default": MemoryConfig.model_validate({"generateTitle": {"model": "bedrock/anthropic.claude"}})})
loaded = set(sys.modules)
Runtime(settings, registry)
print(json.dumps(sorted(set(sys.modules) - loaded)))
"""


def test_the_check_builds_and_imports_no_adapter() -> None:
    # Given a deployment naming an adapter of every kind (all on AWS, a region known)
    settings = {
        "storage_url": "dynamodb://memkit-table",
        "vector_url": "pinecone://index.example",
        "pinecone_api_key": "secretsmanager:memkit/pinecone",
        "embedder": "bedrock/amazon.titan-embed-text-v2:0",
        "jobs": "sqs",
        "queue_url": "https://sqs.example/q",
        "cache": "upstash",
        "upstash_url": "https://cache.example",
        "upstash_token": "token",
        "aws_region": "eu-west-1",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEMKIT_", "AWS_"))}

    # When a runtime is built (which runs the startup check)
    result = subprocess.run(
        [sys.executable, "-c", CHECK_CHILD, json.dumps(settings)], env=env, cwd=REPO_ROOT, capture_output=True, text=True
    )

    # Then no adapter, factory, client or SDK was imported for it: the check is pure
    assert result.returncode == 0, result.stderr
    imported = json.loads(result.stdout)
    assert [name for name in imported if name.startswith(("memkit", "botocore", "pynamodb", "pinecone"))] == []
