"""One reading of Bedrock failures for every adapter that calls ``bedrock-runtime``.

The embedder and the language model feed the same job queue, so the same fault must mean the
same thing for both: a transient model error that dead-letters an indexing job but retries a
title job is a bug in one of them.

* Throttling, unavailability, model timeouts and model errors (424), and any 429 or 5xx whose
  code we do not know yet → ``RetryableError``: the queue tries again later.
* Missing access, an unknown model id, missing credentials or region → ``ConfigurationError``:
  the deployment is wrong, and the job handler dead-letters the job with that reason.
* Any other answer from Bedrock, or a request botocore refuses to send → ``PermanentJobError``.
* No answer at all (connection refused, timeout, a response cut short) → ``RetryableError``.

botocore is imported inside ``bedrock_error``: only a failed call needs it, and this module sits
on the import path of every container.
"""

from __future__ import annotations

from memkit.errors import ConfigurationError, PermanentJobError, RetryableError

RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailableException",
        "ServiceUnavailable",
        "InternalServerException",
        "ModelErrorException",
        "ModelTimeoutException",
        "ModelNotReadyException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
CONFIGURATION_CODES = frozenset(
    {"AccessDeniedException", "ResourceNotFoundException", "UnrecognizedClientException"}
)


def bedrock_error(model_id: str, exc: Exception, *, what: str) -> Exception:
    """The domain error for a failed Bedrock call; ``what`` names the call in the message
    (``"embedding"``, ``"completion"``)."""
    from botocore.exceptions import (
        ClientError,
        NoCredentialsError,
        NoRegionError,
        ParamValidationError,
        PartialCredentialsError,
        ProfileNotFound,
    )
    from botocore.exceptions import ValidationError as BotoValidationError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code") or "error"
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        text = f"bedrock/{model_id} {what} failed with HTTP {status} {code}: {error.get('Message') or exc}"
        if code in RETRYABLE_CODES:
            return RetryableError(text)
        if code in CONFIGURATION_CODES:
            return ConfigurationError(text)
        # Bedrock adds codes over time; its status still says whether waiting could help.
        if status == 429 or status >= 500:
            return RetryableError(text)
        return PermanentJobError(text)
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError, NoRegionError, ProfileNotFound)):
        return ConfigurationError(
            f"bedrock/{model_id} {what} cannot be sent, AWS credentials or region are missing: {exc}"
        )
    if isinstance(exc, (ParamValidationError, BotoValidationError)):
        return PermanentJobError(f"bedrock/{model_id} {what} request is invalid: {exc}")
    # Connection failures, read timeouts, a body cut short: the network, not the request. A
    # client-side fault that is not one of these is retried too, until the queue's redrive
    # limit dead-letters it, rather than lost on the first try.
    return RetryableError(f"bedrock/{model_id} {what} got no usable answer: {exc}")
