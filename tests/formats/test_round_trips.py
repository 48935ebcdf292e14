"""Every fixture conversation, in every format, through v2 and back.

Given a real-shaped provider conversation, when it is converted to v2 and back, the provider
gets the same messages (or the normalised form its fixture documents); the v2 messages are
valid memkit messages; and converting the result again gives the same v2.
"""

from __future__ import annotations

import copy

import pytest

from memkit.formats import bedrock
from memkit.models import Message, parse_model
from tests.formats.support import (
    expected_back,
    every_provider_fixture,
    fixture_names,
    from_v2,
    load,
    provider_side,
    bedrock_bytes,
    stamp,
    to_v2,
)

CASES = every_provider_fixture()
IDS = [f"{format_name}/{name}" for format_name, name in CASES]


def test_every_format_has_fixtures_of_each_kind() -> None:
    by_format: dict[str, set[str]] = {}
    for format_name, name in CASES:
        by_format.setdefault(format_name, set()).add(name)
    assert set(by_format) == {"openai_chat", "openai_responses", "anthropic", "bedrock"}
    for names in by_format.values():
        assert any("multi_step" in name for name in names)
        assert any("parallel" in name for name in names)
        assert any("normalised" in name for name in names)


@pytest.mark.parametrize(("format_name", "name"), CASES, ids=IDS)
def test_provider_messages_come_back_unchanged_through_v2(format_name: str, name: str) -> None:
    fixture = load(format_name, name)
    request = provider_side(format_name, fixture)
    untouched = copy.deepcopy(request)

    v2 = to_v2(format_name, request)
    back = from_v2(format_name, v2, fixture.get("options"))

    assert back == expected_back(format_name, fixture)
    assert request == untouched  # the input is read, never changed


@pytest.mark.parametrize(("format_name", "name"), CASES, ids=IDS)
def test_converted_messages_are_valid_memkit_messages(format_name: str, name: str) -> None:
    v2 = to_v2(format_name, provider_side(format_name, load(format_name, name)))

    parsed = [parse_model(Message, message) for message in v2]

    assert [message.to_wire() for message in parsed] == v2
    assert {(m.thread_id, m.resource_id) for m in parsed} == {("thread-1", "user-1")}


@pytest.mark.parametrize(("format_name", "name"), CASES, ids=IDS)
def test_v2_made_from_provider_messages_survives_the_trip_out_and_back(format_name: str, name: str) -> None:
    fixture = load(format_name, name)
    v2 = to_v2(format_name, provider_side(format_name, fixture))

    again = to_v2(format_name, from_v2(format_name, v2, fixture.get("options")))

    assert again == v2


@pytest.mark.parametrize("name", fixture_names("bedrock"))
def test_bedrock_binary_given_as_bytes_reads_and_writes_like_base64(name: str) -> None:
    fixture = load("bedrock", name)
    as_json = provider_side("bedrock", fixture)
    as_boto3 = bedrock_bytes(as_json)

    v2 = bedrock.to_v2(as_boto3["messages"], system=as_boto3.get("system"), **stamp())

    assert v2 == to_v2("bedrock", as_json)
    assert bedrock.from_v2(v2) == bedrock_bytes(expected_back("bedrock", fixture))
