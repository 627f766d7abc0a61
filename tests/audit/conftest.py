"""The authenticated app and its records come from the secure-login tests."""

from tests.auth.conftest import secured  # noqa: F401
