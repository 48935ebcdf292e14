"""The Lambda handlers' tests run on the API's fixtures (``tests/api/conftest.py``); the worker's
test imports the job fixtures itself (``tests/support/jobs.py``)."""

from tests.api.conftest import lambda_api, make_runtime, portal, runtime, storage_url, store  # noqa: F401
