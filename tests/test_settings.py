"""Typed settings: secrets never show in logs, bad values fail at startup naming the variable."""

from __future__ import annotations

import pytest

from memkit.errors import ConfigurationError
from memkit.settings import Settings

SECRETS = {
    "MEMKIT_AUTH": "api-key",
    "MEMKIT_API_KEY": "secret-api-key-1",
    "MEMKIT_CACHE": "upstash",
    "UPSTASH_REDIS_REST_URL": "https://example.upstash.io",
    "UPSTASH_REDIS_REST_TOKEN": "secret-upstash-token-2",
    "PINECONE_API_KEY": "secret-pinecone-key-3",
    "OPENAI_API_KEY": "secret-openai-key-4",
}


def test_describe_and_repr_mask_every_secret_but_keep_the_rest() -> None:
    # Given settings carrying one secret of each kind
    settings = Settings.from_env(SECRETS)

    # When they are described for a log line or printed
    described = settings.describe()
    printed = repr(settings)

    # Then no secret value appears, each is marked as set, and the non-secrets are shown as they are
    for name in ("MEMKIT_API_KEY", "UPSTASH_REDIS_REST_TOKEN", "PINECONE_API_KEY", "OPENAI_API_KEY"):
        assert SECRETS[name] not in str(described)
        assert SECRETS[name] not in printed
    assert {described[key] for key in ("api_key", "upstash_token", "pinecone_api_key", "openai_api_key")} == {"***"}
    assert described["upstash_url"] == "https://example.upstash.io"
    assert described["auth_mode"] == "api-key"


def test_describe_shows_an_unset_secret_as_unset() -> None:
    assert Settings.from_env({}).describe()["api_key"] is None


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MEMKIT_CACHE_TIMEOUT_SECONDS", "soon"),
        ("MEMKIT_CACHE_TIMEOUT_SECONDS", "0"),
        ("MEMKIT_CACHE_TIMEOUT_SECONDS", "nan"),
        ("MEMKIT_MAX_BODY_BYTES", "lots"),
        ("MEMKIT_MAX_BODY_BYTES", "-1"),
        ("MEMKIT_EMBEDDING_DIMENSION", "0"),
    ],
)
def test_a_bad_number_is_a_configuration_error_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        Settings.from_env({variable: value})


def test_logs_are_readable_lines_locally_and_json_with_metrics_in_lambda() -> None:
    local = Settings.from_env({})
    in_lambda = Settings.from_env({"AWS_LAMBDA_FUNCTION_NAME": "memkit-api", "MEMKIT_AUTH": "jwt"})

    assert (local.log_format, local.metrics) == ("text", False)
    assert (in_lambda.log_format, in_lambda.metrics) == ("json", True)
    forced = Settings.from_env({"MEMKIT_LOG_FORMAT": "JSON", "MEMKIT_METRICS": "1"})
    assert (forced.log_format, forced.metrics) == ("json", True)


def test_an_unknown_log_format_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="MEMKIT_LOG_FORMAT"):
        Settings.from_env({"MEMKIT_LOG_FORMAT": "xml"})
