"""The operations run on the API's runtime fixtures (``tests/api/conftest.py``), on both stores."""

from tests.api.conftest import make_runtime, runtime, storage_url, store  # noqa: F401
