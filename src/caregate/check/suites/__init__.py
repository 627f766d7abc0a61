"""The suites, one module per standard; importing this package registers every test in order."""

from caregate.check.suites import capability, rest, search, security, ukcore  # noqa: F401
