"""The suites, one module per standard; importing this package registers every test in order."""

from caregate.check.suites import bulk, capability, confinement, realtime, rest, search, security, ukcore  # noqa: F401
