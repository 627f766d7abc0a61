"""Composition root: settings in, a running ASGI application out."""

from __future__ import annotations

from caregate.clock import SystemClock, instant
from caregate.config import Settings
from caregate.search.registry import default_registry
from caregate.storage import open_store
from caregate.subscriptions.service import SubscriptionService
from caregate.web.app import asgi_app
from caregate.web.fhir_api import FhirApi
from caregate.web.subscriptions import SubscriptionWeb


def build(settings: Settings, *, access_log: bool = True):
    clock = SystemClock()
    store = open_store(settings.database_url, clock)
    api = FhirApi(store, default_registry(), settings.fhir_base, page_default=settings.page_default,
                  page_max=settings.page_max, started=instant(clock.now()))
    api.subscriptions = SubscriptionWeb(SubscriptionService(store, api.registry, api.base_url, settings.database_url))
    auth = None
    if not settings.no_auth:
        from caregate.auth.service import AuthService

        auth = AuthService(settings.database_url, settings.fhir_base)
        auth.remember_base()
        api.bearer = auth.bearer
    return asgi_app(api, access_log=access_log)


def from_env():
    """Factory for server worker processes: every setting comes from `CAREGATE_*` variables."""
    settings = Settings.from_env()
    return build(settings, access_log=settings.access_log)
