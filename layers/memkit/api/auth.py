"""Who is calling over HTTP: ``Authenticator.authenticate`` runs once per request and returns the
``Principal`` (``memkit.operations.principal``) that every operation then asks which resources
the caller may touch.

Modes (``MEMKIT_AUTH``):

- ``none``: anyone, any resource. Refused inside Lambda unless forced.
- ``api-key``: a server-to-server key in ``x-api-key`` or ``Authorization: Bearer``. The caller
  is trusted with every resource (it is the agent backend, acting for its users).
- ``jwt``: API Gateway's JWT authorizer has verified the token; the claims are read from the
  API Gateway event that Mangum puts in the ASGI scope, never from headers, so a request that
  did not come through API Gateway has no claims and is refused, whatever headers it forges.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from memkit.clients.secrets import prefetch_secret, resolve_secret
from memkit.errors import AuthenticationError, ConfigurationError
from memkit.operations.principal import ANONYMOUS, Principal
from memkit.settings import AUTH_MODES, Settings


class Authenticator:
    """Built once per app from the settings; ``authenticate`` is called once per request."""

    def __init__(self, settings: Settings, *, lambda_runtime: bool | None = None):
        """Refuses settings an API must not start with (``create_app`` builds one at import,
        so a misconfigured function fails its init rather than serving)."""
        self.mode = settings.auth_mode
        self._api_key_setting = settings.api_key
        self._claim = settings.jwt_resource_claim
        if self.mode not in AUTH_MODES:
            raise ConfigurationError(f"MEMKIT_AUTH must be one of {AUTH_MODES}, got {self.mode!r}")
        if lambda_runtime is None:
            lambda_runtime = settings.lambda_runtime
        if self.mode == "none" and lambda_runtime and not settings.auth_force_none:
            raise ConfigurationError(
                "MEMKIT_AUTH=none refuses to run inside Lambda; use api-key or jwt, "
                "or set MEMKIT_AUTH_FORCE_NONE=1 if something in front of the API authenticates"
            )
        if self.mode == "api-key" and not self._api_key_setting:
            raise ConfigurationError("MEMKIT_AUTH=api-key needs MEMKIT_API_KEY (a value or ssm:/secretsmanager: reference)")
        if self.mode == "api-key":
            # Built at init (create_app), so a key held in SSM or Secrets Manager is on its way
            # while the rest of the cold start runs.
            prefetch_secret(self._api_key_setting)

    def authenticate(self, scope: Mapping[str, Any], headers: Mapping[str, str]) -> Principal:
        if self.mode == "none":
            return ANONYMOUS
        if self.mode == "api-key":
            return self._api_key(headers)
        if self.mode == "jwt":
            return self._jwt(scope)
        raise ConfigurationError(f"unknown auth mode {self.mode!r}")

    def _expected_api_key(self) -> str:
        # A direct value costs nothing; an ssm:/secretsmanager: reference is cached for the
        # container by Powertools Parameters (5 minutes, so a rotated key is picked up).
        key = resolve_secret(self._api_key_setting)
        if not key:
            raise ConfigurationError("MEMKIT_API_KEY resolved to an empty value")
        return key

    def _api_key(self, headers: Mapping[str, str]) -> Principal:
        given = headers.get("x-api-key")
        if not given:
            scheme, _, credentials = (headers.get("authorization") or "").partition(" ")
            if scheme.lower() == "bearer":
                given = credentials.strip()
        if not given:
            raise AuthenticationError("Missing API key: send it in x-api-key or as Authorization: Bearer <key>")
        expected = self._expected_api_key()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise AuthenticationError("Invalid API key")
        return Principal.trusted("api-key")

    def _jwt(self, scope: Mapping[str, Any]) -> Principal:
        claims = jwt_claims(scope)
        if claims is None:
            raise AuthenticationError("No verified JWT: requests must come through the API Gateway JWT authorizer")
        value = claims.get(self._claim)
        if not isinstance(value, str) or not value:
            raise AuthenticationError(f"The verified JWT has no {self._claim!r} claim to bind the caller to a resource")
        return Principal(subject=f"jwt:{value}", resource_id=value)


def jwt_claims(scope: Mapping[str, Any]) -> dict[str, Any] | None:
    """Claims verified by API Gateway's JWT authorizer, from the event Mangum put in the scope.

    Only Mangum sets ``aws.event``; an HTTP server (uvicorn) builds the scope from the socket,
    so no header can produce this key.
    """
    event = scope.get("aws.event")
    if not isinstance(event, dict):
        return None
    claims = (((event.get("requestContext") or {}).get("authorizer") or {}).get("jwt") or {}).get("claims")
    return claims if isinstance(claims, dict) else None
