"""The local services a benchmark run needs, started lazily once per `make bench` and stopped
at the end. The same launcher as the tests (``infra.local.stack``): DynamoDB Local, a real
redis-server behind the Upstash REST gateway, the Pinecone data-plane stand-in and the
OpenAI-compatible one."""

from __future__ import annotations

import os
from functools import cached_property

from infra.local import stack


class LocalServices:
    def __init__(self) -> None:
        self._services: list[stack.Service] = []

    def __enter__(self) -> "LocalServices":
        for name in stack.AWS_VARIABLES_TO_DROP:
            os.environ.pop(name, None)
        os.environ.update({**stack.LOCAL_AWS_ENVIRONMENT, "MEMKIT_CREATE_TABLES": "1"})
        return self

    def __exit__(self, *exc: object) -> None:
        for service in reversed(self._services):
            service.stop()

    def _keep(self, service: stack.Service) -> stack.Service:
        self._services.append(service)
        return service

    @cached_property
    def dynamodb(self) -> stack.Service:
        service = self._keep(stack.start_dynamodb_local())
        os.environ.update(service.env)
        return service

    @property
    def dynamodb_endpoint(self) -> str:
        return self.dynamodb.url

    @cached_property
    def moto(self) -> stack.Service:
        return self._keep(stack.start_moto())

    @property
    def aws_endpoint(self) -> str:
        """moto's server: every AWS service but DynamoDB (Secrets Manager for the cold start)."""
        return self.moto.url

    @cached_property
    def redis(self) -> stack.Service:
        return self._keep(stack.start_redis())

    @cached_property
    def upstash(self) -> stack.Service:
        return self._keep(stack.start_upstash_gateway(self.redis.port))

    @property
    def upstash_url(self) -> str:
        return self.upstash.env["UPSTASH_REDIS_REST_URL"]

    @property
    def upstash_token(self) -> str:
        return self.upstash.env["UPSTASH_REDIS_REST_TOKEN"]

    @cached_property
    def pinecone(self) -> stack.Service:
        return self._keep(stack.start_pinecone(dimension=256))

    @property
    def pinecone_host(self) -> str:
        return self.pinecone.url

    @cached_property
    def openai(self) -> stack.Service:
        return self._keep(stack.start_openai_stub())

    @property
    def openai_url(self) -> str:
        """The OpenAI-compatible stand-in's base URL (``.../v1``)."""
        return self.openai.url
