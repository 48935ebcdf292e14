"""Upstash REST gateway over a real redis-server, for local runs and tests.

It speaks the REST protocol the ``upstash-redis`` SDK uses, so production
code configured for Upstash talks to it exactly as it would to Upstash:

* ``POST /``            one command as a JSON array, ``["SET", "k", "v", "EX", 60]``
* ``POST /pipeline``    an array of commands; one ``{"result"}``/``{"error"}`` each
* ``POST /multi-exec``  the same, run inside MULTI/EXEC on one connection
* ``GET /cmd/arg/...``  the path form, handy with curl

Run it from the repo root::

    python -m infra.local.upstash_gateway --port 8079 --redis-port 6379 --token local
"""

from __future__ import annotations

import argparse
import base64
import hmac
import itertools
import json
import threading
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

import redis
from redis.exceptions import ResponseError

from infra.local.http_support import StandInRequestHandler, StandInServer, serve_until_terminated

# Commands that would leave a pooled connection in a state the next request
# does not expect (inside MULTI, subscribed, another DB) or that never answer.
# Upstash refuses them over REST too; transactions go through /multi-exec.
# fmt: off
_CONNECTION_STATE_COMMANDS = frozenset({
    "MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH",
    "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE",
    "MONITOR", "SELECT", "QUIT", "RESET", "HELLO", "AUTH", "SYNC", "PSYNC", "CLIENT",
})
# fmt: on

# Redis' own wait for a reply. Kept short so a stopped redis-server turns into
# an error response instead of a request that hangs the caller.
_REDIS_TIMEOUT_SECONDS = 1.0


class BadRequest(Exception):
    """The HTTP request itself is malformed; nothing was sent to redis."""


class RedisUnavailable(Exception):
    """redis-server could not be reached or stopped answering mid-request."""


def command_from_json(raw: Any) -> list[str | int | float]:
    """Validate one JSON command and turn its arguments into redis arguments.

    Upstash stores a JSON number or bool as its JSON text, so ``1.5`` becomes
    ``"1.5"`` and ``true`` becomes ``"true"``; redis-py already renders ints
    and floats that way, bools need doing here.
    """
    if not isinstance(raw, list) or not raw:
        raise BadRequest("ERR command must be a non-empty JSON array")
    args: list[str | int | float] = []
    for value in raw:
        if isinstance(value, bool):
            args.append("true" if value else "false")
        elif isinstance(value, (str, int, float)):
            args.append(value)
        else:
            raise BadRequest(f"ERR command arguments must be strings, numbers or booleans, got {json.dumps(value)}")
    if not isinstance(args[0], str):
        raise BadRequest("ERR command name must be a string")
    if args[0].upper() in _CONNECTION_STATE_COMMANDS:
        raise BadRequest(f"ERR Command is not available over REST: '{args[0]}'")
    return args


def encode_reply(reply: Any, as_base64: bool) -> Any:
    """Render a raw RESP2 reply as Upstash does.

    With ``Upstash-Encoding: base64`` every string except the literal ``OK`` is
    base64, recursively through arrays; integers and nil stay plain.
    """
    if isinstance(reply, bytes):
        if reply == b"OK":
            return "OK"
        if as_base64:
            return base64.b64encode(reply).decode("ascii")
        return reply.decode("utf-8", errors="replace")
    if isinstance(reply, list):
        return [encode_reply(item, as_base64) for item in reply]
    if isinstance(reply, ResponseError):
        # An error nested inside an array (a Lua table, say) has no slot of its
        # own in the Upstash shape; its message is the most useful rendering.
        return encode_reply(str(reply).encode(), as_base64)
    return reply


class RedisRunner:
    """Sends raw commands over pooled redis-py connections and returns raw replies.

    It bypasses redis-py's per-command response callbacks: Upstash forwards
    what redis said (HGETALL is a flat array, SET is ``OK``), and so must we.
    """

    def __init__(self, host: str, port: int) -> None:
        self._pool = redis.ConnectionPool(
            host=host,
            port=port,
            protocol=2,
            socket_timeout=_REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=_REDIS_TIMEOUT_SECONDS,
        )

    def run(self, commands: list[list[str | int | float]]) -> list[Any]:
        """Pipeline ``commands`` on one connection; each reply or ``ResponseError``.

        Raises RedisUnavailable if the connection fails before every reply is read.
        """
        try:
            connection = self._pool.get_connection()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise RedisUnavailable(f"ERR redis is unreachable: {exc}") from exc
        try:
            connection.send_packed_command(connection.pack_commands(commands))
            replies: list[Any] = []
            for _ in commands:
                try:
                    replies.append(connection.read_response())
                except ResponseError as error:
                    replies.append(error)
            return replies
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            # Unread replies would be handed to the next request on this connection.
            connection.disconnect()
            raise RedisUnavailable(f"ERR redis connection failed: {exc}") from exc
        finally:
            self._pool.release(connection)

    def close(self) -> None:
        self._pool.disconnect()


class UpstashGateway(StandInServer):
    def __init__(self, address: tuple[str, int], token: str, runner: RedisRunner) -> None:
        super().__init__(address, UpstashRequestHandler)
        self.token = token
        self.runner = runner
        self._sync_tokens = itertools.count(1)
        self._sync_lock = threading.Lock()

    def next_sync_token(self) -> str:
        with self._sync_lock:
            return str(next(self._sync_tokens))


class UpstashRequestHandler(StandInRequestHandler):
    server: UpstashGateway

    def do_POST(self) -> None:
        body = self._read_body()
        if not self._authorized():
            return
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            self._send(HTTPStatus.BAD_REQUEST, {"error": "Invalid content type. Expected application/json."})
            return
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self._send(HTTPStatus.BAD_REQUEST, {"error": f"ERR request body is not valid JSON: {exc}"})
            return
        path = self.path.split("?", 1)[0].rstrip("/")
        try:
            if path == "":
                self._single(command_from_json(payload))
            elif path == "/pipeline":
                self._pipeline(self._commands_from_json(payload))
            elif path == "/multi-exec":
                self._multi_exec(self._commands_from_json(payload))
            else:
                self._send(HTTPStatus.NOT_FOUND, {"error": f"ERR unknown endpoint POST {path}"})
        except BadRequest as exc:
            self._send(HTTPStatus.BAD_REQUEST, {"error": str(exc)})

    def do_GET(self) -> None:
        self._read_body()
        if not self._authorized():
            return
        path = self.path.split("?", 1)[0].rstrip("/")
        try:
            self._single(self._command_from_path(path))
        except BadRequest as exc:
            self._send(HTTPStatus.BAD_REQUEST, {"error": str(exc)})

    # -- request handling ------------------------------------------------

    def _single(self, command: list[str | int | float]) -> None:
        try:
            [reply] = self.server.runner.run([command])
        except RedisUnavailable as exc:
            self._send(HTTPStatus.SERVICE_UNAVAILABLE, {"error": str(exc)})
            return
        if isinstance(reply, ResponseError):
            self._send(HTTPStatus.BAD_REQUEST, {"error": str(reply)})
        else:
            self._send(HTTPStatus.OK, {"result": encode_reply(reply, self._wants_base64())})

    def _pipeline(self, commands: list[list[str | int | float]]) -> None:
        # A pipeline is not atomic: if redis drops out, each command simply
        # failed, and an array of errors keeps the SDK's per-command decoding intact.
        try:
            replies: list[Any] = self.server.runner.run(commands)
        except RedisUnavailable as exc:
            replies = [ResponseError(str(exc))] * len(commands)
        self._send(HTTPStatus.OK, [self._result_or_error(reply) for reply in replies])

    def _multi_exec(self, commands: list[list[str | int | float]]) -> None:
        try:
            replies = self.server.runner.run([["MULTI"], *commands, ["EXEC"]])
        except RedisUnavailable as exc:
            self._send(HTTPStatus.SERVICE_UNAVAILABLE, {"error": str(exc)})
            return
        exec_reply = replies[-1]
        if isinstance(exec_reply, ResponseError):
            # The transaction was discarded (EXECABORT); the command that could
            # not be queued says why, which beats the generic EXECABORT text.
            queue_errors = [reply for reply in replies[1:-1] if isinstance(reply, ResponseError)]
            self._send(HTTPStatus.BAD_REQUEST, {"error": str(queue_errors[0] if queue_errors else exec_reply)})
            return
        self._send(HTTPStatus.OK, [self._result_or_error(reply) for reply in exec_reply])

    def _result_or_error(self, reply: Any) -> dict[str, Any]:
        if isinstance(reply, ResponseError):
            return {"error": str(reply)}
        return {"result": encode_reply(reply, self._wants_base64())}

    # -- parsing -----------------------------------------------------------

    @staticmethod
    def _commands_from_json(payload: Any) -> list[list[str | int | float]]:
        if not isinstance(payload, list) or not payload:
            raise BadRequest("ERR body must be a non-empty JSON array of commands")
        return [command_from_json(command) for command in payload]

    @staticmethod
    def _command_from_path(path: str) -> list[str | int | float]:
        parts = [unquote(part) for part in path.strip("/").split("/") if part]
        if not parts:
            raise BadRequest("ERR no command given")
        return command_from_json(parts)

    def _read_body(self) -> bytes:
        # Read it even when the request is refused, or the leftover bytes would
        # be parsed as the next request on this keep-alive connection.
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme != "Bearer" or not token.strip():
            self._send(HTTPStatus.BAD_REQUEST, {"error": "Missing or malformed Authorization header"})
            return False
        if not hmac.compare_digest(token.strip().encode(), self.server.token.encode()):
            self._send(HTTPStatus.UNAUTHORIZED, {"error": "Unauthorized"})
            return False
        return True

    def _wants_base64(self) -> bool:
        return self.headers.get("Upstash-Encoding", "").strip().lower() == "base64"

    def _send(self, status: HTTPStatus, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Upstash-Sync-Token", self.server.next_sync_token())
        self.end_headers()
        self.wfile.write(body)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, required=True, help="HTTP port; 0 picks a free one")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--redis-host", default="127.0.0.1")
    parser.add_argument("--redis-port", type=int, required=True)
    parser.add_argument("--token", required=True, help="the only bearer token accepted")
    args = parser.parse_args(argv)

    runner = RedisRunner(args.redis_host, args.redis_port)
    server = UpstashGateway((args.host, args.port), args.token, runner)
    host, port = server.server_address[:2]
    serve_until_terminated(
        server,
        f"ready upstash-gateway http://{host}:{port} -> redis {args.redis_host}:{args.redis_port}",
        cleanup=runner.close,
    )


if __name__ == "__main__":
    main()
