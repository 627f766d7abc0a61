"""Composition root: settings in, a running ASGI application out."""

from __future__ import annotations

import gc

from caregate.audit import AuditLog
from caregate.clock import SystemClock, instant
from caregate.config import Settings
from caregate.policy.rules import load_policy
from caregate.search.registry import default_registry
from caregate.storage import open_store, snomed
from caregate.subscriptions.service import SubscriptionService
from caregate.web.app import asgi_app
from caregate.web.explain_access import ExplainAccess
from caregate.web.fhir_api import FhirApi
from caregate.web.subscriptions import SubscriptionWeb


def build(settings: Settings, *, access_log: bool = True):
    clock = SystemClock()
    store = open_store(settings.database_url, clock)
    api = FhirApi(store, default_registry(), settings.fhir_base, page_default=settings.page_default,
                  page_max=settings.page_max, started=instant(clock.now()), validation=settings.validation)
    snomed.install(settings.database_url)  # a SNOMED CT release loaded into this database, when there is one
    api.policy = load_policy(settings.policy)  # PolicyError names every problem; the server does not start
    api.audit = AuditLog(settings.database_url)  # every FHIR interaction, hash-chained (caregate audit verify)
    api.audit.catch_up()  # records of writes a stopped process committed but had not chained (audit/log.py)
    api.subscriptions = SubscriptionWeb(SubscriptionService(store, api.registry, api.base_url, settings.database_url,
                                                            rules=api.policy, audit=api.audit))
    oauth = None
    if not settings.no_auth:
        from caregate.auth.assurance import minimum_proofing
        from caregate.auth.server import AuthorizationServer
        from caregate.auth.service import AuthService
        from caregate.web.oauth import oauth_web

        auth = AuthService(settings.database_url, settings.fhir_base)
        auth.remember_base()
        server = AuthorizationServer(auth, sandbox=settings.sandbox)
        api.bearer = auth.bearer
        api.explain_access = ExplainAccess(auth.users)
        auth.bearer.min_proofing = minimum_proofing(settings.min_proofing)  # below it, patients get no record
        api.security = security_statement(server.endpoints)
        oauth = oauth_web(server, store, api.registry, settings.federation, api.policy)
    return asgi_app(api, access_log=access_log, oauth=oauth)


def security_statement(endpoints: dict[str, str]) -> dict:
    """CapabilityStatement.rest.security for SMART (smart-app-launch/conformance.html): the service code and
    the oauth-uris extension that clients such as fhirclient read the endpoints from."""
    uris = [{"url": "authorize", "valueUri": endpoints["authorization_endpoint"]},
            {"url": "token", "valueUri": endpoints["token_endpoint"]},
            {"url": "revoke", "valueUri": endpoints["revocation_endpoint"]},
            {"url": "introspect", "valueUri": endpoints["introspection_endpoint"]}]
    if "registration_endpoint" in endpoints:
        uris.append({"url": "register", "valueUri": endpoints["registration_endpoint"]})
    return {"service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                     "code": "SMART-on-FHIR"}], "text": "OAuth2 using SMART-on-FHIR profile"}],
            "extension": [{"url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                           "extension": uris}]}


def from_env():
    """Factory for server worker processes: every setting comes from `CAREGATE_*` variables."""
    settings = Settings.from_env()
    return settled(build(settings, access_log=settings.access_log))


def settled(app):
    """`app`, with what the process holds once it is built set aside from garbage collection, for a server
    process about to serve. The definitions, registries and policy a server loads at start-up live as long as it
    does, yet each full collection walked all of them: 13 ms and more with the event loop stopped, once in a
    while under load, which showed in the slowest responses. Frozen (gc.freeze), they are never walked again.
    Only for processes that build one app and serve it: anything frozen is never freed."""
    gc.collect()
    gc.freeze()
    return app
