"""Topic-based subscriptions: the Subscriptions R5 Backport IG on FHIR R4 (http://hl7.org/fhir/uv/subscriptions-backport/).

Layer 7: reads the store's change log (never called by storage), matches topics with `caregate.search.match`,
and delivers over rest-hook and websocket channels. `service.SubscriptionService` is the entry point.
"""
