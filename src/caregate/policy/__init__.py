"""Access policy: who is asking (`Actor`) and what they may do (`decide`), with no I/O.

Scopes follow SMART App Launch 2.x (https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html);
consent, roles and break-glass will extend the same decisions.
"""

from caregate.policy.actor import Actor
from caregate.policy.decide import Access, access, interaction_letter
from caregate.policy.scopes import Scope, ScopeError, parse_scope, parse_scopes

__all__ = ["Access", "Actor", "Scope", "ScopeError", "access", "interaction_letter", "parse_scope", "parse_scopes"]
