"""Secure login: signing keys, clients and users kept in the database, JWT access tokens (RFC 9068), the
OAuth 2.0 / OpenID Connect / SMART App Launch authorization server, and `bearer`, which turns a presented
token into a `policy.Actor` for the resource server.
"""
