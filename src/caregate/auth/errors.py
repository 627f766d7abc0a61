"""OAuth 2.0 errors carry their protocol code and render themselves (RFC 6749 section 5.2)."""

from __future__ import annotations


class OAuthError(Exception):
    """`error` is the RFC 6749 code (`invalid_grant`, `invalid_client`...); `status` the HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def to_json(self) -> dict:
        return {"error": self.error, "error_description": self.description}
