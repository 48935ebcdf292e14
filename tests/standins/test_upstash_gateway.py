"""The Upstash REST gateway, driven through the official ``upstash-redis`` SDK.

The data must really land in redis-server, so some checks read it back with
redis-py directly.
"""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
import redis
from upstash_redis import Redis
from upstash_redis.errors import UpstashError

from infra.local import stack

pytestmark = pytest.mark.redis

COMPARE_AND_SET = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0
"""


@pytest.fixture
def client(upstash_gateway) -> Redis:
    return Redis(url=upstash_gateway.url, token=upstash_gateway.token, rest_retries=0)


@pytest.fixture
def direct(redis_server) -> Iterator[redis.Redis]:
    connection = redis.Redis(port=redis_server.port, protocol=2, decode_responses=True)
    yield connection
    connection.close()


@pytest.fixture
def key(request: pytest.FixtureRequest) -> str:
    """A key prefix of this test's own, so tests sharing the session's redis never collide."""
    return f"gateway-test:{request.node.name}:"


def post(upstash_gateway, path: str, body: object, **headers: str) -> httpx.Response:
    all_headers = {"Authorization": f"Bearer {upstash_gateway.token}", **headers}
    return httpx.post(f"{upstash_gateway.url}{path}", json=body, headers=all_headers, timeout=5)


def test_ping_answers_pong(client: Redis) -> None:
    assert client.ping() == "PONG"


def test_set_with_expiry_is_stored_in_redis_with_a_ttl(client: Redis, direct: redis.Redis, key: str) -> None:
    assert client.set(f"{key}k", "value", ex=60) is True
    assert client.get(f"{key}k") == "value"
    assert direct.get(f"{key}k") == "value"
    assert 0 < direct.ttl(f"{key}k") <= 60


def test_get_of_a_missing_key_is_none(client: Redis, key: str) -> None:
    assert client.get(f"{key}missing") is None


def test_incr_counts_up_from_nothing(client: Redis, key: str) -> None:
    assert [client.incr(f"{key}n") for _ in range(3)] == [1, 2, 3]


def test_hash_round_trip(client: Redis, key: str) -> None:
    assert client.hset(f"{key}h", values={"a": "1", "b": "two"}) == 2
    assert client.hgetall(f"{key}h") == {"a": "1", "b": "two"}


def test_sorted_set_range_is_ordered_by_score(client: Redis, key: str) -> None:
    client.zadd(f"{key}z", {"late": 2.5, "early": 0.5, "middle": 1})
    assert client.zrange(f"{key}z", 0, -1) == ["early", "middle", "late"]
    assert client.zrange(f"{key}z", 0, 0, withscores=True) == [("early", 0.5)]


def test_mget_returns_none_for_missing_keys(client: Redis, key: str) -> None:
    client.set(f"{key}a", "1")
    assert client.mget(f"{key}a", f"{key}nope") == ["1", None]


def test_unicode_values_survive_the_base64_encoding(client: Redis, key: str) -> None:
    client.set(f"{key}u", "héllo — 世界 🙂")
    assert client.get(f"{key}u") == "héllo — 世界 🙂"


def test_pipeline_returns_one_result_per_command(client: Redis, key: str) -> None:
    pipeline = client.pipeline()
    pipeline.set(f"{key}p", "1")
    pipeline.incr(f"{key}p")
    pipeline.get(f"{key}p")
    assert pipeline.exec() == [True, 2, "2"]


def test_a_failing_command_makes_the_pipeline_raise(client: Redis, key: str) -> None:
    client.set(f"{key}s", "not a hash")
    pipeline = client.pipeline()
    pipeline.get(f"{key}s")
    pipeline.hget(f"{key}s", "field")
    with pytest.raises(UpstashError, match="WRONGTYPE"):
        pipeline.exec()


def test_multi_exec_runs_the_commands_as_one_transaction(client: Redis, direct: redis.Redis, key: str) -> None:
    transaction = client.multi()
    transaction.set(f"{key}t", "10")
    transaction.incrby(f"{key}t", 5)
    transaction.get(f"{key}t")
    assert transaction.exec() == [True, 15, "15"]
    assert direct.get(f"{key}t") == "15"


def test_multi_exec_with_an_unqueueable_command_runs_nothing(upstash_gateway, direct: redis.Redis, key: str) -> None:
    response = post(upstash_gateway, "/multi-exec", [["SET", f"{key}x", "1"], ["NOSUCHCOMMAND"]])
    assert response.status_code == 400
    assert "unknown command" in response.json()["error"]
    assert direct.exists(f"{key}x") == 0


def test_eval_compare_and_set_swaps_only_on_a_match(client: Redis, key: str) -> None:
    client.set(f"{key}cas", "v1")
    assert client.eval(COMPARE_AND_SET, keys=[f"{key}cas"], args=["other", "v2"]) == 0
    assert client.get(f"{key}cas") == "v1"
    assert client.eval(COMPARE_AND_SET, keys=[f"{key}cas"], args=["v1", "v2"]) == 1
    assert client.get(f"{key}cas") == "v2"


def test_a_redis_error_is_raised_with_redis_message(client: Redis, key: str) -> None:
    client.set(f"{key}s", "text")
    with pytest.raises(UpstashError, match="WRONGTYPE"):
        client.hget(f"{key}s", "field")


def test_wrong_token_raises(upstash_gateway) -> None:
    intruder = Redis(url=upstash_gateway.url, token="not-the-token", rest_retries=0)
    with pytest.raises(UpstashError, match="Unauthorized"):
        intruder.get("anything")


# -- the wire format itself --------------------------------------------------------


def test_base64_encoding_covers_every_string_but_ok(upstash_gateway, key: str) -> None:
    as_base64 = {"Upstash-Encoding": "base64"}
    assert post(upstash_gateway, "/", ["PING"], **as_base64).json() == {"result": "UE9ORw=="}
    assert post(upstash_gateway, "/", ["SET", f"{key}a", "x"], **as_base64).json() == {"result": "OK"}
    post(upstash_gateway, "/", ["RPUSH", f"{key}l", "one", "two"])
    listed = post(upstash_gateway, "/", ["LRANGE", f"{key}l", 0, -1], **as_base64).json()
    assert listed == {"result": [base64.b64encode(b"one").decode(), base64.b64encode(b"two").decode()]}
    assert post(upstash_gateway, "/", ["INCR", f"{key}n"], **as_base64).json() == {"result": 1}
    assert post(upstash_gateway, "/", ["GET", f"{key}missing"], **as_base64).json() == {"result": None}


def test_without_the_encoding_header_strings_are_plain(upstash_gateway, key: str) -> None:
    assert post(upstash_gateway, "/", ["PING"]).json() == {"result": "PONG"}
    post(upstash_gateway, "/", ["SET", f"{key}a", "plain"])
    assert post(upstash_gateway, "/", ["GET", f"{key}a"]).json() == {"result": "plain"}


def test_json_numbers_are_stored_as_their_text(upstash_gateway, direct: redis.Redis, key: str) -> None:
    post(upstash_gateway, "/", ["SET", f"{key}f", 1.5])
    post(upstash_gateway, "/", ["SET", f"{key}i", 42])
    assert (direct.get(f"{key}f"), direct.get(f"{key}i")) == ("1.5", "42")


def test_pipeline_body_is_an_array_of_results_and_errors(upstash_gateway, key: str) -> None:
    response = post(upstash_gateway, "/pipeline", [["SET", f"{key}a", "1"], ["NOSUCHCOMMAND"], ["GET", f"{key}a"]])
    assert response.status_code == 200
    first, second, third = response.json()
    assert first == {"result": "OK"}
    assert "unknown command" in second["error"]
    assert third == {"result": "1"}


def test_responses_carry_a_sync_token(upstash_gateway) -> None:
    assert post(upstash_gateway, "/", ["PING"]).headers["Upstash-Sync-Token"]


def test_unknown_token_is_401(upstash_gateway) -> None:
    response = httpx.post(upstash_gateway.url, json=["PING"], headers={"Authorization": "Bearer wrong"})
    assert (response.status_code, response.json()) == (401, {"error": "Unauthorized"})


@pytest.mark.parametrize("header", [None, "Basic abc", "Bearer", "bearer-token-without-scheme"])
def test_missing_or_malformed_authorization_is_400(upstash_gateway, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = httpx.post(upstash_gateway.url, json=["PING"], headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]


def test_wrong_content_type_is_400(upstash_gateway) -> None:
    response = httpx.post(
        upstash_gateway.url,
        content=b'["PING"]',
        headers={"Authorization": f"Bearer {upstash_gateway.token}", "Content-Type": "text/plain"},
    )
    assert response.status_code == 400


def test_commands_that_would_poison_a_pooled_connection_are_refused(upstash_gateway, client: Redis) -> None:
    response = post(upstash_gateway, "/", ["MULTI"])
    assert response.status_code == 400
    # Every pooled connection still answers normally afterwards.
    assert [client.ping() for _ in range(5)] == ["PONG"] * 5


def test_path_style_get_runs_the_command(upstash_gateway, client: Redis, key: str) -> None:
    client.set(f"{key}g", "via path")
    response = httpx.get(
        f"{upstash_gateway.url}/get/{key}g", headers={"Authorization": f"Bearer {upstash_gateway.token}"}
    )
    assert response.json() == {"result": "via path"}


# -- when redis is not there ----------------------------------------------------------


@pytest.fixture
def silent_redis_port() -> Iterator[int]:
    """A port that accepts TCP connections and never says anything, like a hung redis."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def test_a_hung_redis_becomes_an_error_within_seconds(silent_redis_port: int) -> None:
    with stack.start_upstash_gateway(redis_port=silent_redis_port) as gateway:
        client = Redis(url=gateway.url, token=gateway.env["UPSTASH_REDIS_REST_TOKEN"], rest_retries=0)
        started = time.monotonic()
        with pytest.raises(UpstashError, match="redis"):
            client.get("anything")
        assert time.monotonic() - started < 5


def test_a_redis_outage_is_an_error_and_recovery_needs_no_gateway_restart(
    redis_server, client: Redis, key: str
) -> None:
    assert client.ping() == "PONG"
    with redis_server.stopped():
        with pytest.raises(UpstashError, match="redis"):
            client.get(f"{key}k")
        pipeline = client.pipeline()
        pipeline.get(f"{key}k")
        with pytest.raises(UpstashError, match="redis"):
            pipeline.exec()
    # The pool's connections to the old process are stale; they must be replaced, not reported.
    assert [client.ping() for _ in range(5)] == ["PONG"] * 5
