"""In-memory Pinecone data plane, for local runs and tests.

It answers the REST calls the ``pinecone`` SDK's ``Index(host=...)`` makes,
with the response shapes and the limits of the real service, so the
production vector adapter cannot tell it apart:

``POST /vectors/upsert``, ``POST /query``, ``GET /vectors/fetch``,
``POST /vectors/delete``, ``GET /vectors/list``, ``POST /describe_index_stats``.

Unlike Pinecone, writes are visible at once. Errors use the data plane's
gRPC-status body, ``{"code": 3, "message": "...", "details": []}``.

Run it from the repo root::

    python -m infra.local.pinecone_server --port 8081 --dimension 256 --metric cosine
"""

from __future__ import annotations

import argparse
import base64
import heapq
import json
import math
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from infra.local.http_support import StandInRequestHandler, StandInServer, serve_until_terminated

MAX_UPSERT_VECTORS = 1000
MAX_REQUEST_BYTES = 2 * 1024 * 1024
MAX_TOP_K = 10_000
MAX_METADATA_BYTES = 40 * 1024
MAX_ID_LENGTH = 512
DEFAULT_LIST_LIMIT = 100
MAX_LIST_LIMIT = 100

# Pinecone names the default namespace "__default__" in stats and accepts that
# name in requests; the SDK itself sends nothing (or "") for it.
DEFAULT_NAMESPACE_NAME = "__default__"

# gRPC status codes, which is what the data plane puts in "code".
_INVALID_ARGUMENT = 3
_NOT_FOUND = 5
_UNAUTHENTICATED = 16


class PineconeApiError(Exception):
    def __init__(self, status: HTTPStatus, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def invalid(message: str) -> PineconeApiError:
    return PineconeApiError(HTTPStatus.BAD_REQUEST, _INVALID_ARGUMENT, message)


# -- metadata filters ---------------------------------------------------------

Predicate = Callable[[Mapping[str, Any]], bool]


def _same_value(stored: Any, wanted: Any) -> bool:
    # Python's True == 1; Pinecone keeps booleans and numbers apart.
    if isinstance(stored, bool) or isinstance(wanted, bool):
        return isinstance(stored, bool) and isinstance(wanted, bool) and stored == wanted
    return stored == wanted


def _as_list(stored: Any) -> list[Any]:
    # A list field matches when any of its elements does.
    return stored if isinstance(stored, list) else [stored]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_scalar(operator: str, operand: Any) -> None:
    if not isinstance(operand, (str, int, float, bool)):
        raise invalid(f"Invalid filter: {operator} expects a string, number or boolean, got {json.dumps(operand)}")


def _field_predicate(name: str, condition: Any) -> Predicate:
    if not isinstance(condition, dict):
        condition = {"$eq": condition}
    if not condition:
        raise invalid(f"Invalid filter: empty condition for field {name!r}")
    checks: list[Predicate] = [_operator_predicate(name, op, operand) for op, operand in condition.items()]
    return lambda metadata: all(check(metadata) for check in checks)


def _operator_predicate(name: str, operator: str, operand: Any) -> Predicate:
    missing = object()
    if operator in ("$eq", "$ne"):
        _check_scalar(operator, operand)
        positive = operator == "$eq"

        def matches_eq(metadata: Mapping[str, Any]) -> bool:
            stored = metadata.get(name, missing)
            found = stored is not missing and any(_same_value(item, operand) for item in _as_list(stored))
            return found if positive else not found

        return matches_eq
    if operator in ("$in", "$nin"):
        if not isinstance(operand, list) or not operand:
            raise invalid(f"Invalid filter: {operator} expects a non-empty array for field {name!r}")
        for item in operand:
            _check_scalar(operator, item)
        positive = operator == "$in"

        def matches_in(metadata: Mapping[str, Any]) -> bool:
            stored = metadata.get(name, missing)
            found = stored is not missing and any(
                _same_value(item, wanted) for item in _as_list(stored) for wanted in operand
            )
            return found if positive else not found

        return matches_in
    if operator in ("$gt", "$gte", "$lt", "$lte"):
        if not _is_number(operand):
            raise invalid(f"Invalid filter: {operator} expects a number for field {name!r}, got {json.dumps(operand)}")
        compare: Callable[[float, float], bool] = {
            "$gt": lambda a, b: a > b,
            "$gte": lambda a, b: a >= b,
            "$lt": lambda a, b: a < b,
            "$lte": lambda a, b: a <= b,
        }[operator]
        return lambda metadata: any(
            _is_number(item) and compare(item, operand) for item in _as_list(metadata.get(name, []))
        )
    if operator == "$exists":
        if not isinstance(operand, bool):
            raise invalid(f"Invalid filter: $exists expects a boolean for field {name!r}")
        return lambda metadata: (name in metadata) == operand
    raise invalid(f"Invalid filter: unsupported operator {operator!r} for field {name!r}")


def compile_filter(spec: Any) -> Predicate:
    """Turn a Mongo-style metadata filter into a predicate over a metadata dict.

    Top-level keys combine with AND; ``$and``/``$or`` take arrays of filters.
    """
    if not isinstance(spec, dict):
        raise invalid(f"Invalid filter: expected an object, got {json.dumps(spec)}")
    clauses: list[Predicate] = []
    for key, value in spec.items():
        if key in ("$and", "$or"):
            if not isinstance(value, list) or not value:
                raise invalid(f"Invalid filter: {key} expects a non-empty array of filters")
            parts = [compile_filter(part) for part in value]
            combine = all if key == "$and" else any
            clauses.append(lambda metadata, parts=parts, combine=combine: combine(p(metadata) for p in parts))
        elif key.startswith("$"):
            raise invalid(f"Invalid filter: unsupported top-level operator {key!r}")
        else:
            clauses.append(_field_predicate(key, value))
    return lambda metadata: all(clause(metadata) for clause in clauses)


def _optional_filter(body: Mapping[str, Any]) -> Predicate | None:
    spec = body.get("filter")
    if spec is None:
        return None
    if not spec:
        raise invalid("Invalid filter: the filter must not be empty")
    return compile_filter(spec)


# -- the index ------------------------------------------------------------------


@dataclass
class Record:
    id: str
    values: list[float]
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_json(self, include_values: bool = True, include_metadata: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "values": self.values if include_values else []}
        if include_metadata and self.metadata:
            out["metadata"] = self.metadata
        return out


def _score_function(metric: str) -> tuple[Callable[[list[float], list[float]], float], bool]:
    """The metric's score and whether a higher score means closer."""

    def dot(a: list[float], b: list[float]) -> float:
        return math.fsum(x * y for x, y in zip(a, b, strict=True))

    if metric == "cosine":

        def cosine(a: list[float], b: list[float]) -> float:
            norms = math.sqrt(dot(a, a)) * math.sqrt(dot(b, b))
            return dot(a, b) / norms if norms else 0.0

        return cosine, True
    if metric == "dotproduct":
        return dot, True
    # Pinecone's euclidean score is the squared distance, smallest first.
    return (lambda a, b: math.fsum((x - y) ** 2 for x, y in zip(a, b, strict=True))), False


class VectorIndex:
    """One serverless index: namespaces of records, guarded by one lock."""

    def __init__(self, dimension: int, metric: str) -> None:
        self.dimension = dimension
        self.metric = metric
        self._score, self._higher_is_closer = _score_function(metric)
        self._namespaces: dict[str, dict[str, Record]] = {}
        self._lock = threading.Lock()

    # Each method takes a parsed JSON body (or query parameters) and returns
    # the JSON response; validation errors raise PineconeApiError.

    def upsert(self, body: Mapping[str, Any]) -> dict[str, Any]:
        namespace = _namespace(body.get("namespace"))
        vectors = body.get("vectors")
        if not isinstance(vectors, list) or not vectors:
            raise invalid("vectors must be a non-empty array")
        if len(vectors) > MAX_UPSERT_VECTORS:
            raise invalid(f"Upsert of {len(vectors)} vectors exceeds the maximum of {MAX_UPSERT_VECTORS} per request")
        records = [self._record_from_json(vector) for vector in vectors]
        with self._lock:
            stored = self._namespaces.setdefault(namespace, {})
            for record in records:
                stored[record.id] = record
        return {"upsertedCount": len(records)}

    def query(self, body: Mapping[str, Any]) -> dict[str, Any]:
        namespace = _namespace(body.get("namespace"))
        top_k = body.get("topK")
        if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= MAX_TOP_K:
            raise invalid(f"topK must be an integer between 1 and {MAX_TOP_K}, got {json.dumps(top_k)}")
        matches_filter = _optional_filter(body)
        include_values = body.get("includeValues") is True
        include_metadata = body.get("includeMetadata") is True
        has_vector, has_id = body.get("vector") is not None, body.get("id") is not None
        if has_vector == has_id:
            raise invalid("Exactly one of vector or id must be provided")
        query_vector = self._values_from_json(body["vector"], "vector") if has_vector else None
        with self._lock:
            stored = self._namespaces.get(namespace, {})
            records = list(stored.values())
            if has_id:
                # Querying by an id that is not stored finds nothing, as in Pinecone.
                anchor = stored.get(_vector_id(body["id"]))
                query_vector = anchor.values if anchor else None
        matches: list[dict[str, Any]] = []
        if query_vector is not None:
            candidates = [r for r in records if matches_filter is None or matches_filter(r.metadata)]
            scored = [(self._score(query_vector, r.values), r) for r in candidates]
            pick = heapq.nlargest if self._higher_is_closer else heapq.nsmallest
            for score, record in pick(top_k, scored, key=lambda pair: pair[0]):
                match = record.to_json(include_values, include_metadata)
                match["score"] = score
                matches.append(match)
        return {"matches": matches, "namespace": namespace, "usage": {"readUnits": 5}}

    def fetch(self, params: Mapping[str, list[str]]) -> dict[str, Any]:
        namespace = _namespace(_single_param(params, "namespace"))
        ids = params.get("ids", [])
        if not ids:
            raise invalid("ids must contain at least one id")
        with self._lock:
            stored = self._namespaces.get(namespace, {})
            found = {vid: stored[vid].to_json() for vid in ids if vid in stored}
        return {"vectors": found, "namespace": namespace, "usage": {"readUnits": 1}}

    def delete(self, body: Mapping[str, Any]) -> dict[str, Any]:
        namespace = _namespace(body.get("namespace"))
        ids, delete_all = body.get("ids"), body.get("deleteAll") is True
        matches_filter = _optional_filter(body)
        if sum((ids is not None, delete_all, matches_filter is not None)) != 1:
            raise invalid("Exactly one of ids, deleteAll or filter must be provided")
        if ids is not None and (not isinstance(ids, list) or not ids):
            raise invalid("ids must be a non-empty array")
        with self._lock:
            stored = self._namespaces.get(namespace)
            if stored is None:
                # Pinecone answers 404 to a delete in a namespace it does not know, and here a
                # namespace exists only while it holds vectors (as in describe_index_stats).
                raise PineconeApiError(HTTPStatus.NOT_FOUND, _NOT_FOUND, "Namespace not found")
            if delete_all:
                stored.clear()
            elif ids is not None:
                for vid in ids:
                    stored.pop(_vector_id(vid), None)
            else:
                assert matches_filter is not None
                for vid in [vid for vid, r in stored.items() if matches_filter(r.metadata)]:
                    del stored[vid]
            if not stored:
                self._namespaces.pop(namespace, None)
        return {}

    def describe_index_stats(self, body: Mapping[str, Any]) -> dict[str, Any]:
        matches_filter = _optional_filter(body)
        with self._lock:
            counts = {
                name or DEFAULT_NAMESPACE_NAME: sum(
                    1 for r in records.values() if matches_filter is None or matches_filter(r.metadata)
                )
                for name, records in self._namespaces.items()
            }
        return {
            "namespaces": {name: {"vectorCount": count} for name, count in counts.items()},
            "dimension": self.dimension,
            "indexFullness": 0.0,
            "totalVectorCount": sum(counts.values()),
            "metric": self.metric,
            "vectorType": "dense",
        }

    def list_ids(self, params: Mapping[str, list[str]]) -> dict[str, Any]:
        namespace = _namespace(_single_param(params, "namespace"))
        prefix = _single_param(params, "prefix") or ""
        limit_text = _single_param(params, "limit")
        try:
            limit = int(limit_text) if limit_text is not None else DEFAULT_LIST_LIMIT
        except ValueError:
            raise invalid(f"limit must be an integer, got {limit_text!r}") from None
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise invalid(f"limit must be between 1 and {MAX_LIST_LIMIT}, got {limit}")
        after = _decode_pagination_token(_single_param(params, "paginationToken"))
        with self._lock:
            ids = sorted(vid for vid in self._namespaces.get(namespace, {}) if vid.startswith(prefix) and vid > after)
        page = ids[:limit]
        response: dict[str, Any] = {
            "vectors": [{"id": vid} for vid in page],
            "namespace": namespace,
            "usage": {"readUnits": 1},
        }
        if len(ids) > limit:
            response["pagination"] = {"next": _encode_pagination_token(page[-1])}
        return response

    # -- validation ---------------------------------------------------------

    def _record_from_json(self, vector: Any) -> Record:
        if not isinstance(vector, dict):
            raise invalid("Each vector must be an object with id and values")
        if vector.get("sparseValues") is not None:
            raise invalid("Sparse values are not supported for a dense index")
        values = self._values_from_json(vector.get("values"), f"vector {vector.get('id')!r}")
        if self.metric == "cosine" and not any(values):
            raise invalid(f"Dense vectors must contain at least one non-zero value (vector id {vector.get('id')!r})")
        metadata = vector.get("metadata")
        if metadata is not None:
            _check_metadata(metadata)
        return Record(id=_vector_id(vector.get("id")), values=values, metadata=dict(metadata or {}))

    def _values_from_json(self, values: Any, what: str) -> list[float]:
        if not isinstance(values, list) or not all(_is_number(v) and math.isfinite(v) for v in values):
            raise invalid(f"Values of {what} must be an array of finite numbers")
        if len(values) != self.dimension:
            raise invalid(f"Vector dimension {len(values)} does not match the dimension of the index {self.dimension}")
        return [float(v) for v in values]


def _namespace(value: Any) -> str:
    if value is None or value == DEFAULT_NAMESPACE_NAME:
        return ""
    if not isinstance(value, str):
        raise invalid(f"namespace must be a string, got {json.dumps(value)}")
    return value


def _vector_id(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise invalid(f"Vector id must be a non-empty string, got {json.dumps(value)}")
    if len(value) > MAX_ID_LENGTH:
        raise invalid(f"Vector id is longer than {MAX_ID_LENGTH} characters: {value[:40]}...")
    return value


def _check_metadata(metadata: Any) -> None:
    if not isinstance(metadata, dict):
        raise invalid(f"Metadata must be an object, got {json.dumps(metadata)}")
    for key, value in metadata.items():
        is_string_list = isinstance(value, list) and all(isinstance(item, str) for item in value)
        is_scalar = isinstance(value, (str, bool)) or (_is_number(value) and math.isfinite(value))
        if not (is_scalar or is_string_list):
            raise invalid(
                f"Metadata value for field {key!r} must be a string, number, boolean or list of strings, "
                f"got {json.dumps(value)}"
            )
    size = len(json.dumps(metadata, separators=(",", ":")).encode())
    if size > MAX_METADATA_BYTES:
        raise invalid(
            f"Metadata size is {size} bytes, which exceeds the limit of {MAX_METADATA_BYTES} bytes per vector"
        )


def _single_param(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[-1] if values else None


def _encode_pagination_token(last_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": last_id}).encode()).decode()


def _decode_pagination_token(token: str | None) -> str:
    if not token:
        return ""
    try:
        after = json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
    except (ValueError, KeyError, TypeError) as exc:
        raise invalid(f"Invalid paginationToken: {token!r}") from exc
    if not isinstance(after, str):
        raise invalid(f"Invalid paginationToken: {token!r}")
    return after


# -- HTTP -----------------------------------------------------------------------


class PineconeServer(StandInServer):
    def __init__(self, address: tuple[str, int], index: VectorIndex) -> None:
        super().__init__(address, PineconeRequestHandler)
        self.index = index


class PineconeRequestHandler(StandInRequestHandler):
    server: PineconeServer

    def do_GET(self) -> None:
        self._dispatch(
            {
                "/vectors/fetch": self.server.index.fetch,
                "/vectors/list": self.server.index.list_ids,
            },
            body_is_query=True,
        )

    def do_POST(self) -> None:
        self._dispatch(
            {
                "/vectors/upsert": self.server.index.upsert,
                "/query": self.server.index.query,
                "/vectors/delete": self.server.index.delete,
                "/describe_index_stats": self.server.index.describe_index_stats,
            },
            body_is_query=False,
        )

    def _dispatch(self, routes: Mapping[str, Callable[[Any], dict[str, Any]]], body_is_query: bool) -> None:
        # Read the body first: unread bytes would be parsed as the next request
        # on this keep-alive connection.
        raw_body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        url = urlsplit(self.path)
        try:
            if not self.headers.get("Api-Key", "").strip():
                raise PineconeApiError(
                    HTTPStatus.UNAUTHORIZED, _UNAUTHENTICATED, "Invalid API key: the Api-Key header is missing"
                )
            handler = routes.get(url.path.rstrip("/"))
            if handler is None:
                raise PineconeApiError(HTTPStatus.NOT_FOUND, _NOT_FOUND, f"Unknown endpoint {self.command} {url.path}")
            if body_is_query:
                argument: Any = parse_qs(url.query, keep_blank_values=True)
            else:
                if len(raw_body) > MAX_REQUEST_BYTES:
                    raise invalid(
                        f"Request size {len(raw_body)} bytes exceeds the maximum supported size "
                        f"of {MAX_REQUEST_BYTES} bytes"
                    )
                argument = self._json_body(raw_body)
            self._send(HTTPStatus.OK, handler(argument))
        except PineconeApiError as error:
            self._send(error.status, {"code": error.code, "message": error.message, "details": []})

    @staticmethod
    def _json_body(raw_body: bytes) -> dict[str, Any]:
        try:
            body = json.loads(raw_body or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise invalid(f"Request body is not valid JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise invalid("Request body must be a JSON object")
        return body

    def _send(self, status: HTTPStatus, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-pinecone-request-id", uuid.uuid4().hex)
        self.end_headers()
        self.wfile.write(body)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, required=True, help="HTTP port; 0 picks a free one")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--dimension", type=int, required=True)
    parser.add_argument("--metric", choices=("cosine", "dotproduct", "euclidean"), default="cosine")
    args = parser.parse_args(argv)
    if args.dimension < 1:
        parser.error("--dimension must be positive")

    server = PineconeServer((args.host, args.port), VectorIndex(args.dimension, args.metric))
    host, port = server.server_address[:2]
    serve_until_terminated(server, f"ready pinecone http://{host}:{port} dimension={args.dimension} metric={args.metric}")


if __name__ == "__main__":
    main()
