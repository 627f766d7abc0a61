"""The tamper-evident audit trail: one FHIR AuditEvent per interaction, hash-chained in its own table."""

from caregate.audit.chain import Broken, verify
from caregate.audit.event import Access, audit_event
from caregate.audit.log import AuditLog

__all__ = ["Access", "AuditLog", "Broken", "audit_event", "verify"]
