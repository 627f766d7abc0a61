"""Settings from command-line flags and `CAREGATE_*` environment variables (12-factor).

Flags win over the environment, the environment wins over defaults. Every setting is documented here and in
the README; a test checks that each field is mentioned there.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

DEFAULT_DATABASE_FILE = "caregate.db"


def default_database_url() -> str:
    return f"sqlite:///{Path.cwd() / DEFAULT_DATABASE_FILE}"


@dataclass(frozen=True, slots=True)
class Settings:
    """What a caregate process needs to know. Env var for field `x` is `CAREGATE_X`."""

    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8080
    no_auth: bool = False
    sandbox: bool = False  # open dynamic client registration and print demo credentials
    base_url: str = ""  # public FHIR base; derived from host/port when empty
    log_level: str = "info"
    page_max: int = 1000  # largest _count honoured
    page_default: int = 20
    workers: int = 1  # server processes (each with its own connections)
    access_log: bool = True
    validation: str = "lenient"  # strict | lenient | off: how writes are validated (interactions/validation.py)
    federation: str = ""  # TOML file of trusted OpenID Connect providers (auth/federation.py); empty: none
    min_proofing: str = ""  # P5 | P9: identity proofing a patient needs to reach their record; empty: none
    policy: str = ""  # access policy TOML file (policy/rules.py); empty: the built-in default policy

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: object) -> Settings:
        env = dict(os.environ if env is None else env)
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(f"CAREGATE_{f.name.upper()}")
            if raw is None:
                continue
            if f.type in ("bool", bool):
                values[f.name] = raw.strip().lower() in ("1", "true", "yes", "on")
            elif f.type in ("int", int):
                values[f.name] = int(raw)
            else:
                values[f.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)  # type: ignore[arg-type]
        if not settings.database_url:
            settings = replace(settings, database_url=default_database_url())
        return settings

    @property
    def fhir_base(self) -> str:
        if self.base_url:
            return self.base_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/fhir"


def is_loopback(host: str) -> bool:
    """True when `host` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
