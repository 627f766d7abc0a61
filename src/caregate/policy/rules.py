"""The access policy file: which roles may do what, for which purposes, and which sensitivity labels they see.

A policy is a TOML file (`caregate serve --policy FILE`), validated completely at start-up so a mistake stops
the server with every problem named by file and key path. With no file the shipped `default_policy.toml`
applies; it is also the documentation of the format. Roles deny on top of SMART scopes: a scope never grants
what the actor's roles do not allow.

Roles are keyed by code: national RBAC job roles (R8000 Clinical Practitioner Access Role, R8001 Nurse Access
Role, R8008 Admin/Clinical Support Access Role...) and local roles (`researcher`, `admin`). Two roles apply
without being given: `patient` to a user signed in as a Patient with no role, `unassigned` to any other user
with no role. A backend service (a client acting for no user) is bounded by its scopes alone.

Labels are `meta.security` codes (https://hl7.org/fhir/R4/security-labels.html): confidentiality from
v3-Confidentiality (L M N R U V) and sensitivity from v3-ActCode (PSY, MH, ETH, SUD, HIV, SEX, STD...), or any
`system|code`. A label a role may not see withholds the resource (it answers as if absent) unless the label
names elements to `redact`, in which case those elements are removed and the resource marked REDACTED.
Break-glass lifts every label that is not `absolute`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from caregate.fhir.definitions import is_resource_type
from caregate.policy.actor import Actor
from caregate.policy.purpose import BREAK_GLASS, PURPOSES
from caregate.policy.relationships import KINDS

CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONFIDENTIALITY_CODES = frozenset({"L", "M", "N", "R", "U", "V"})
SENSITIVITY_CODES = frozenset({"ETH", "GDIS", "HIV", "MST", "SCA", "SDV", "SEX", "SPI", "BH", "MH", "PSY",
                               "PSYTHPN", "SUD", "STD", "TBOO", "VIO", "SICKLE"})  # v3-ActCode sensitivity policies
WORDS = {"read": "r", "search": "s", "create": "c", "update": "u", "delete": "d"}  # policy word -> SMART letter
PATIENT_ROLE = "patient"
UNASSIGNED_ROLE = "unassigned"
ANY = "*"
DEFAULT_NAME = "default_policy.toml"


class PolicyError(ValueError):
    """A policy file that cannot be used; `problems` are lines `file: key.path: what is wrong`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Label:
    """One security label the policy knows. `redact`: elements removed per resource type instead of
    withholding the resource (empty: withheld). `absolute`: break-glass never lifts it."""

    key: str  # as written in the policy: a code or `system|code`
    system: str
    code: str
    redact: dict[str, tuple[str, ...]] = field(default_factory=dict)
    absolute: bool = False
    meaning: str = ""


@dataclass(frozen=True, slots=True)
class Role:
    code: str
    name: str
    resources: dict[str, frozenset[str]]  # resource type or "*" -> SMART letters allowed
    purposes: frozenset[str]  # v3 PurposeOfUse codes, or {"*"}
    relationships: tuple[str, ...] = ()  # relationship kinds that count for this role
    labels: frozenset[str] = frozenset()  # label keys the role may see, or {"*"}

    def allows(self, type_: str, letter: str) -> bool:
        return letter in self.resources.get(type_, frozenset()) or letter in self.resources.get(ANY, frozenset())

    def asserts(self, purpose: str) -> bool:
        return ANY in self.purposes or purpose in self.purposes

    def sees(self, label: Label) -> bool:
        return ANY in self.labels or label.key in self.labels


@dataclass(frozen=True, slots=True)
class Sight:
    """What one actor may see for one purpose: labels whose resources are withheld, for SQL, as (system, code)
    or (system, code, type...) when the label is redacted in those types and withheld in every other; and per
    label the elements to redact by type."""

    hidden: tuple[tuple[str, ...], ...] = ()
    redact: tuple[tuple[tuple[str, str], dict[str, tuple[str, ...]]], ...] = ()


EVERYTHING = Sight()


class Policy:
    """A validated policy. Decisions are memoised per (roles, type, letter, purpose): they run on every request."""

    def __init__(self, source: str, roles: dict[str, Role], labels: dict[str, Label]) -> None:
        self.source = source
        self.roles = roles
        self.labels = labels
        self._memo: dict[tuple, object] = {}

    def roles_of(self, actor: Actor) -> tuple[str, ...] | None:
        """The role codes that apply to `actor`; None for a backend service (bounded by its scopes alone)."""
        if actor.roles:
            return actor.roles
        if actor.fhir_user is None and actor.subject == actor.client_id:
            return None
        return (PATIENT_ROLE,) if (actor.fhir_user or "").startswith("Patient/") else (UNASSIGNED_ROLE,)

    def denial(self, actor: Actor, type_: str, letter: str, purpose: str) -> str | None:
        """Why the roles refuse `letter` on `type_` for `purpose`, naming the rule; None when they allow it."""
        codes = self.roles_of(actor)
        if codes is None:
            return None
        key = ("deny", codes, type_, letter, purpose)
        if key not in self._memo:
            self._memo[key] = self._denial(codes, type_, letter, purpose)
        return self._memo[key]  # type: ignore[return-value]

    def _denial(self, codes: tuple[str, ...], type_: str, letter: str, purpose: str) -> str | None:
        known = [self.roles[c] for c in codes if c in self.roles]
        word = next(w for w, x in WORDS.items() if x == letter)
        if not known:
            return f"The access policy ({self.source}) has no rule for the role{'s' if len(codes) > 1 else ''} " \
                   f"{', '.join(codes)}, so it allows nothing."
        asserting = [r for r in known if r.asserts(purpose)]
        if not asserting:
            return f"The access policy rule roles.{known[0].code}.purposes does not include {purpose}" + \
                   ("" if len(known) == 1 else f" (nor does any other role held: {', '.join(codes)})") + "."
        if any(r.allows(type_, letter) for r in asserting):
            return None
        return f"The access policy rule roles.{asserting[0].code}.resources does not allow {word} on {type_}" + \
               ("" if len(asserting) == 1 else f" (nor does any other role held: {', '.join(codes)})") + "."

    def permitting_role(self, actor: Actor, type_: str, letter: str, purpose: str) -> str | None:
        """The first role that allows the request (for explanations); None for a backend service."""
        codes = self.roles_of(actor) or ()
        for code in codes:
            role = self.roles.get(code)
            if role is not None and role.asserts(purpose) and role.allows(type_, letter):
                return code
        return None

    def relationship_kinds(self, actor: Actor, known: frozenset[str]) -> frozenset[str]:
        """Of the `known` relationship kinds, those that give the actor's roles a legitimate relationship with a
        patient (a role without the key counts them all; an empty list: the role needs no relationship)."""
        kinds: set[str] = set()
        for code in self.roles_of(actor) or ():
            role = self.roles.get(code)
            if role is not None:
                kinds |= known if ANY in role.relationships else known & set(role.relationships)
        return frozenset(kinds)

    def sight(self, actor: Actor | None, purpose: str) -> Sight:
        """Which labelled resources `actor` may not see for `purpose` (break-glass lifts all but the absolute)."""
        codes = self.roles_of(actor) if actor is not None else None
        if codes is None or not self.labels:
            return EVERYTHING
        key = ("sight", codes, purpose == BREAK_GLASS)
        if key not in self._memo:
            held = [self.roles[c] for c in codes if c in self.roles]
            hidden, redact = [], []
            for label in self.labels.values():
                if any(r.sees(label) for r in held) or (purpose == BREAK_GLASS and not label.absolute):
                    continue
                if label.redact:
                    redact.append(((label.system, label.code), label.redact))
                    hidden.append((label.system, label.code, *sorted(label.redact)))
                else:
                    hidden.append((label.system, label.code))
            self._memo[key] = Sight(tuple(hidden), tuple(redact)) if hidden or redact else EVERYTHING
        return self._memo[key]  # type: ignore[return-value]


def default_text() -> str:
    return resources.files("caregate.policy").joinpath(DEFAULT_NAME).read_text("utf-8")


def default_policy() -> Policy:
    return parse_policy(default_text(), f"built-in {DEFAULT_NAME}")


def load_policy(path: str | Path | None) -> Policy:
    """The policy in `path`, or the built-in one when `path` is empty; PolicyError naming every problem."""
    if not path:
        return default_policy()
    name = str(path)
    try:
        text = Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError([f"{name}: cannot be read ({exc.__class__.__name__}: {exc})"]) from None
    return parse_policy(text, name)


def parse_policy(text: str, name: str) -> Policy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError([f"{name}: not valid TOML ({exc})"]) from None
    return _Reader(name).policy(data)


class _Reader:
    """Reads the TOML tables into a Policy, collecting every problem rather than stopping at the first."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.problems: list[str] = []

    def bad(self, path: str, what: str) -> None:
        self.problems.append(f"{self.name}: {path}: {what}")

    def policy(self, data: dict) -> Policy:
        for key in data:
            if key not in ("roles", "labels"):
                self.bad(key, "unknown key (a policy has [roles.CODE] and [labels.CODE] tables)")
        labels = {}
        raw_labels = data.get("labels", {})
        if not isinstance(raw_labels, dict):
            self.bad("labels", "must be a table of labels")
            raw_labels = {}
        for key, body in raw_labels.items():
            label = self.label(key, body)
            if label is not None:
                labels[key] = label
        roles = {}
        raw_roles = data.get("roles", {})
        if not isinstance(raw_roles, dict) or not raw_roles:
            self.bad("roles", "must be a table with at least one role")
            raw_roles = {}
        for code, body in raw_roles.items():
            role = self.role(code, body, raw_labels)
            if role is not None:
                roles[code] = role
        if self.problems:
            raise PolicyError(self.problems)
        return Policy(self.name, roles, labels)

    def strings(self, path: str, value: object) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.bad(path, "must be a list of strings")
            return []
        return value

    def label(self, key: str, body: object) -> Label | None:
        path = f"labels.{key}"
        if not isinstance(body, dict):
            self.bad(path, "must be a table")
            return None
        for k in body:
            if k not in ("meaning", "redact", "absolute"):
                self.bad(f"{path}.{k}", "unknown key (known: meaning, redact, absolute)")
        system, _, code = key.rpartition("|")
        if not system:
            if key in CONFIDENTIALITY_CODES:
                system = CONFIDENTIALITY
            elif key in SENSITIVITY_CODES:
                system = ACT_CODE
            else:
                known = ", ".join(sorted(CONFIDENTIALITY_CODES))
                self.bad(path, f"'{key}' is neither a v3-Confidentiality code ({known})"
                               " nor a v3-ActCode sensitivity code (e.g. PSY, MH, ETH, SUD, HIV, SEX, STD); "
                               "write other labels as \"system|code\"")
                return None
        absolute = body.get("absolute", False)
        if not isinstance(absolute, bool):
            self.bad(f"{path}.absolute", "must be true or false")
        redact: dict[str, tuple[str, ...]] = {}
        raw = body.get("redact", {})
        if not isinstance(raw, dict):
            self.bad(f"{path}.redact", "must be a table of resource type = [elements]")
            raw = {}
        for type_, elements in raw.items():
            if not is_resource_type(type_):
                self.bad(f"{path}.redact.{type_}", "is not a FHIR R4 resource type")
                continue
            names = self.strings(f"{path}.redact.{type_}", elements)
            for n in names:
                if not n.isidentifier() or n in ("id", "meta", "resourceType"):
                    self.bad(f"{path}.redact.{type_}", f"'{n}' is not a top-level element that can be removed")
            redact[type_] = tuple(names)
        meaning = body.get("meaning", "")
        if not isinstance(meaning, str):
            self.bad(f"{path}.meaning", "must be text")
            meaning = ""
        return Label(key, system, code, redact, absolute is True, meaning)

    def role(self, code: str, body: object, labels: dict) -> Role | None:
        path = f"roles.{code}"
        if not isinstance(body, dict):
            self.bad(path, "must be a table")
            return None
        for k in body:
            if k not in ("name", "resources", "purposes", "relationships", "labels"):
                self.bad(f"{path}.{k}", "unknown key (known: name, resources, purposes, relationships, labels)")
        name = body.get("name", code)
        if not isinstance(name, str):
            self.bad(f"{path}.name", "must be text")
        res: dict[str, frozenset[str]] = {}
        raw = body.get("resources", {})
        if not isinstance(raw, dict):
            self.bad(f"{path}.resources", "must be a table of resource type (or \"*\") = [interactions]")
            raw = {}
        for type_, words in raw.items():
            if type_ != ANY and not is_resource_type(type_):
                self.bad(f"{path}.resources.{type_}", "is not a FHIR R4 resource type (or \"*\" for every type)")
                continue
            letters = set()
            for w in self.strings(f"{path}.resources.{type_}", words):
                if w not in WORDS:
                    self.bad(f"{path}.resources.{type_}", f"'{w}' is not an interaction (read, search, create, "
                                                          "update, delete)")
                else:
                    letters.add(WORDS[w])
            res[type_] = frozenset(letters)
        purposes = self.strings(f"{path}.purposes", body.get("purposes", []))
        for p in purposes:
            if p != ANY and p not in PURPOSES:
                self.bad(f"{path}.purposes", f"'{p}' is not a v3 PurposeOfUse code (e.g. TREAT, ETREAT, HRESCH)")
        relationships = self.strings(f"{path}.relationships", body.get("relationships", [ANY]))
        for kind in relationships:
            if kind != ANY and kind not in KINDS:
                self.bad(f"{path}.relationships", f"'{kind}' is not a relationship kind (known: "
                                                  f"{', '.join(sorted(KINDS))})")
        seen = self.strings(f"{path}.labels", body.get("labels", []))
        for key in seen:
            if key != ANY and key not in labels:
                self.bad(f"{path}.labels", f"'{key}' is not a label of this policy (declare it under [labels])")
        return Role(code, name if isinstance(name, str) else code, res, frozenset(purposes), tuple(relationships),
                    frozenset(seen))
