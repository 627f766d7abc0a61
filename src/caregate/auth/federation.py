"""caregate as an OpenID Connect relying party of an external identity provider, as services are of NHS login
(patients) and NHS CIS2 (staff): OpenID Connect Core 1.0 with Discovery 1.0, the authorization code flow with
PKCE (RFC 7636), `state` and `nonce`, and `private_key_jwt` client authentication (Core section 9).

The provider's answer is trusted only once its id_token verifies: a signature by a key in the provider's JWKS
(asymmetric algorithms only), `iss` the configured issuer, `aud` holding our client id (and `azp` it when
there are several audiences), `exp` in the future and `nonce` the one we sent (Core section 3.1.3.7). Its
claims are then mapped to a caregate user: an NHS number to the Patient holding it, a staff user id to the
Practitioner holding it, role and organisation claims to roles and an ODS code, and the proofing level
(`identity_proofing_level`, or the P component of `vot`) to the user's proofing level.

The providers are described in a TOML file (`caregate serve --federation FILE`); see the README.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import httpx
from joserfc import jwk, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from caregate.auth.users import PROOFING_LEVELS

ID_TOKEN_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CALLBACK_PATH = "/auth/federation/callback"
LEEWAY = 60  # seconds of clock difference tolerated with the provider
_CACHE_SECONDS = 300.0
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
_VOT = re.compile(r"^(?:[A-Za-z][A-Za-z0-9]*)(?:\.[A-Za-z][A-Za-z0-9]*)*$")


class FederationError(Exception):
    """The provider's answer cannot be used; the message is shown to the person signing in (no secrets in it).
    `status` is the HTTP status of the page that says so."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class ConfigError(ValueError):
    """The federation file is not usable; the message says where."""


@dataclass(frozen=True, slots=True)
class ClaimMapping:
    """Which provider claims mean what. Empty names switch a mapping off."""

    nhs_number: str = "nhs_number"  # -> the Patient with that https://fhir.nhs.uk/Id/nhs-number identifier
    proofing: str = "identity_proofing_level"  # P0 | P5 | P9
    vot: str = "vot"  # vectors of trust, e.g. P9.Cp.Cd (its P component is the proofing level when no claim)
    aal: str = "authentication_assurance_level"  # 1, 2 or 3 (CIS2); else judged from the methods used
    staff_id: str = ""  # a staff user id (CIS2: uid) -> the Practitioner with that identifier
    staff_id_system: str = "https://fhir.nhs.uk/Id/sds-user-id"
    roles: str = ""  # a list of role codes, or CIS2-style objects with role_code ("S8000:G8000:R8000") and org_code
    org: str = ""  # an ODS code, when not taken from the role objects


@dataclass(frozen=True, slots=True)
class Provider:
    name: str  # short, for URLs and user names (`name:sub`)
    title: str  # shown on the button: "Sign in with <title>"
    issuer: str
    client_id: str
    key: jwk.RSAKey | jwk.ECKey
    signing_alg: str
    users: str  # patient | staff
    scope: str = "openid"
    claims: ClaimMapping = field(default_factory=ClaimMapping)
    vtr: tuple[str, ...] = ()  # vectors of trust to ask for (NHS login's `vtr`), e.g. P9.Cp.Cd, P9.Cp.Ck, P9.Cm


@dataclass(frozen=True, slots=True)
class Federation:
    providers: dict[str, Provider]
    local_sign_in: bool = True  # also offer caregate's own user name and password form

    def get(self, name: str) -> Provider | None:
        return self.providers.get(name)


def load(path: str | Path) -> Federation:
    """Read and check a federation file; ConfigError naming the problem otherwise."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"The federation file {path} cannot be read: {exc}") from None
    local = data.get("local_sign_in", True)
    if not isinstance(local, bool):
        raise ConfigError("local_sign_in must be true or false.")
    entries = data.get("provider", [])
    if not isinstance(entries, list) or not entries:
        raise ConfigError("The federation file names no [[provider]].")
    providers: dict[str, Provider] = {}
    for i, entry in enumerate(entries):
        where = f"[[provider]] number {i + 1}"
        provider = _provider(entry, where, Path(path).parent)
        if provider.name in providers:
            raise ConfigError(f"{where}: the name {provider.name!r} is used twice.")
        providers[provider.name] = provider
    return Federation(providers, local)


def _provider(entry: dict, where: str, here: Path) -> Provider:
    def text(key: str, default: str | None = None) -> str:
        value = entry.get(key, default)
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where}: {key} is required (a string).")
        return value

    name = text("name")
    if not _NAME.match(name):
        raise ConfigError(f"{where}: name must be lower-case letters, digits and dashes.")
    users = text("users", "patient")
    if users not in ("patient", "staff"):
        raise ConfigError(f"{where}: users is patient or staff.")
    key_file = Path(text("private_key_file"))
    if not key_file.is_absolute():
        key_file = here / key_file
    try:
        pem = key_file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{where}: the private key file cannot be read: {exc.strerror}.") from None
    try:
        key: jwk.RSAKey | jwk.ECKey = jwk.RSAKey.import_key(pem)
        default_alg = "RS512"  # what NHS login asks of its relying parties
    except (JoseError, ValueError, TypeError):
        try:
            key = jwk.ECKey.import_key(pem)
            default_alg = "ES384"
        except (JoseError, ValueError, TypeError):
            raise ConfigError(f"{where}: the private key file holds no RSA or EC private key (PEM).") from None
    if not key.is_private:
        raise ConfigError(f"{where}: the key file holds a public key; the private key is needed to sign.")
    alg = text("signing_alg", default_alg)
    if alg not in ID_TOKEN_ALGORITHMS or (alg[0] == "E") != (default_alg[0] == "E"):
        raise ConfigError(f"{where}: signing_alg {alg} does not suit the key.")
    mapping = entry.get("claims", {})
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise ConfigError(f"{where}: [provider.claims] maps names to claim names (strings).")
    known = set(ClaimMapping.__dataclass_fields__)
    unknown = set(mapping) - known
    if unknown:
        raise ConfigError(f"{where}: unknown claim mappings {', '.join(sorted(unknown))} (known: "
                          f"{', '.join(sorted(known))}).")
    claims = ClaimMapping(**mapping)
    if users == "staff" and not claims.staff_id:
        raise ConfigError(f"{where}: staff providers need claims.staff_id (the claim naming the staff member).")
    issuer = text("issuer").rstrip("/")
    if not issuer.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise ConfigError(f"{where}: the issuer must be an https URL.")
    vtr = entry.get("vtr", [])
    if not isinstance(vtr, list) or not all(isinstance(v, str) and _VOT.match(v) for v in vtr):
        raise ConfigError(f"{where}: vtr is a list of vectors of trust such as \"P9.Cp.Cd\".")
    return Provider(name, text("title", name), issuer, text("client_id"), key, alg, users,
                    text("scope", "openid"), claims, tuple(vtr))


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the provider says signed in, in caregate's terms (the record links are resolved by the caller)."""

    subject: str
    proofing: str
    vot: str | None
    amr: tuple[str, ...]
    nhs_number: str | None = None
    staff_id: str | None = None
    roles: tuple[str, ...] = ()
    org: str | None = None
    aal: str | None = None


@dataclass(slots=True)
class Started:
    """An authorization request to the provider, and what must be kept to check its answer."""

    url: str
    state: str
    nonce: str
    verifier: str


class RelyingParty:
    """Talks to providers over HTTP (httpx, short timeouts); discovery documents and JWKS are cached a while."""

    def __init__(self, federation: Federation, redirect_uri: str, now: Callable[[], float] = time.time) -> None:
        self.federation = federation
        self.redirect_uri = redirect_uri
        self.now = now
        self._discovered: dict[str, tuple[float, dict]] = {}
        self._jwks: dict[str, tuple[float, dict]] = {}

    # -- step 1: send the browser to the provider ----------------------------------------------------
    def start(self, provider: Provider) -> Started:
        meta = self.discovery(provider)
        state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        query = {"response_type": "code", "client_id": provider.client_id, "redirect_uri": self.redirect_uri,
                 "scope": provider.scope, "state": state, "nonce": nonce, "code_challenge": challenge,
                 "code_challenge_method": "S256"}
        if provider.vtr:  # a JSON array of acceptable vectors (RFC 8485 section 5.1, as NHS login takes it)
            query["vtr"] = json.dumps(list(provider.vtr), separators=(",", ":"))
        endpoint = meta["authorization_endpoint"]
        return Started(endpoint + ("&" if "?" in endpoint else "?") + urlencode(query), state, nonce, verifier)

    # -- step 2: the code back -> tokens -> a verified identity -------------------------------------
    def finish(self, provider: Provider, code: str, nonce: str, verifier: str) -> Identity:
        meta = self.discovery(provider)
        token_endpoint = meta["token_endpoint"]
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri,
                "code_verifier": verifier, "client_id": provider.client_id,
                "client_assertion_type": ASSERTION_TYPE, "client_assertion": self.assertion(provider, token_endpoint)}
        try:
            response = httpx.post(token_endpoint, data=form, timeout=10, follow_redirects=False)
        except httpx.HTTPError:
            raise FederationError(f"{provider.title} could not be reached to finish signing in; try again later.",
                                  502) from None
        if response.status_code != 200:
            raise FederationError(f"{provider.title} did not accept the sign-in (its token endpoint answered "
                                  f"{response.status_code}); start again.", 502)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("id_token"), str):
            raise FederationError(f"{provider.title} answered without an id_token.", 502)
        claims = self.verify_id_token(provider, body["id_token"], nonce)
        userinfo = meta.get("userinfo_endpoint")
        if isinstance(userinfo, str) and isinstance(body.get("access_token"), str) and self._missing(provider, claims):
            claims = {**self._userinfo(provider, userinfo, body["access_token"], claims["sub"]), **claims}
        return identity(provider, claims)

    def assertion(self, provider: Provider, audience: str) -> str:
        """The private_key_jwt client assertion (RFC 7523 section 3): short-lived, single-use jti."""
        now = int(self.now())
        claims = {"iss": provider.client_id, "sub": provider.client_id, "aud": audience, "iat": now,
                  "exp": now + 60, "jti": secrets.token_urlsafe(24)}
        header = {"alg": provider.signing_alg, "typ": "JWT"}
        kid = provider.key.as_dict(private=False).get("kid")
        if kid:
            header["kid"] = kid
        return jwt.encode(header, claims, provider.key, algorithms=[provider.signing_alg])

    def verify_id_token(self, provider: Provider, token: str, nonce: str) -> dict:
        """OpenID Connect Core 3.1.3.7; FederationError saying which check failed."""
        try:
            decoded = jwt.decode(token, self._keys(provider, refresh=False), algorithms=list(ID_TOKEN_ALGORITHMS))
        except (JoseError, ValueError, TypeError):
            try:  # the provider may have rotated its keys since we cached them
                decoded = jwt.decode(token, self._keys(provider, refresh=True), algorithms=list(ID_TOKEN_ALGORITHMS))
            except (JoseError, ValueError, TypeError):
                raise FederationError(f"The answer from {provider.title} could not be verified: its signature does "
                                      "not match the provider's published keys.", 401) from None
        claims = decoded.claims
        now = int(self.now())
        if claims.get("iss") != provider.issuer:
            raise FederationError(f"The answer claims to come from another issuer than {provider.title}.", 401)
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if provider.client_id not in audiences or (len(audiences) > 1 and claims.get("azp") != provider.client_id):
            raise FederationError(f"The answer from {provider.title} was meant for another service.", 401)
        exp = claims.get("exp")  # a NumericDate: seconds, perhaps with a fraction (RFC 7519 section 2)
        if not _numeric(exp) or exp + LEEWAY < now:
            raise FederationError(f"The answer from {provider.title} has expired; start again.", 401)
        iat = claims.get("iat")
        if _numeric(iat) and iat - LEEWAY > now:
            raise FederationError(f"The answer from {provider.title} is dated in the future.", 401)
        if not nonce or not isinstance(claims.get("nonce"), str) or not secrets.compare_digest(claims["nonce"], nonce):
            raise FederationError(f"The answer from {provider.title} does not belong to this sign-in (nonce); "
                                  "start again.", 401)
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise FederationError(f"The answer from {provider.title} names nobody (no sub).", 401)
        return dict(claims)

    def discovery(self, provider: Provider) -> dict:
        """The provider's OpenID configuration (Discovery 1.0 section 4), whose issuer must be the one set."""
        cached = self._discovered.get(provider.name)
        if cached and self.now() - cached[0] < _CACHE_SECONDS:
            return cached[1]
        meta = _get_json(f"{provider.issuer}/.well-known/openid-configuration", provider)
        if meta.get("issuer", "").rstrip("/") != provider.issuer:
            raise FederationError(f"{provider.title}'s discovery document names another issuer.", 502)
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(meta.get(key), str):
                raise FederationError(f"{provider.title}'s discovery document has no {key}.", 502)
        self._discovered[provider.name] = (self.now(), meta)
        return meta

    def _keys(self, provider: Provider, *, refresh: bool) -> KeySet:
        cached = self._jwks.get(provider.name)
        if refresh or cached is None or self.now() - cached[0] >= _CACHE_SECONDS:
            cached = (self.now(), _get_json(self.discovery(provider)["jwks_uri"], provider))
            self._jwks[provider.name] = cached
        try:
            keys = [k for k in cached[1].get("keys", []) if isinstance(k, dict) and k.get("kty") in ("RSA", "EC")]
            return KeySet.import_key_set({"keys": keys})
        except (JoseError, ValueError, TypeError, KeyError):
            raise FederationError(f"{provider.title}'s published keys cannot be used.", 502) from None

    @staticmethod
    def _missing(provider: Provider, claims: dict) -> bool:
        mapping = provider.claims
        wanted = mapping.nhs_number if provider.users == "patient" else mapping.staff_id
        return bool(wanted) and wanted not in claims

    def _userinfo(self, provider: Provider, url: str, access_token: str, subject: str) -> dict:
        """The UserInfo claims (Core 5.3), used only when their sub is the id_token's (5.3.2)."""
        try:
            response = httpx.get(url, headers={"Authorization": f"Bearer {access_token}"}, timeout=10)
            data = response.json() if response.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            data = {}
        if not isinstance(data, dict) or data.get("sub") != subject:
            return {}
        return data


def identity(provider: Provider, claims: dict) -> Identity:
    """Map verified claims to an Identity by the provider's claim mapping."""
    mapping = provider.claims
    vot = claims.get(mapping.vot) if mapping.vot else None
    vot = vot if isinstance(vot, str) and _VOT.match(vot) else None
    proofing = claims.get(mapping.proofing) if mapping.proofing else None
    if proofing not in PROOFING_LEVELS and vot:
        proofing = next((c for c in vot.split(".") if c in PROOFING_LEVELS), None)
    proofing = proofing if proofing in PROOFING_LEVELS else "P0"
    amr = claims.get("amr")
    methods = tuple(m for m in amr if isinstance(m, str)) if isinstance(amr, list) else ()
    if not methods and vot:
        methods = tuple(dict.fromkeys(m for c in vot.split(".") if (m := _VOT_METHODS.get(c))))
    nhs = claims.get(mapping.nhs_number) if mapping.nhs_number and provider.users == "patient" else None
    nhs = re.sub(r"\s", "", nhs) if isinstance(nhs, str) else None
    staff = claims.get(mapping.staff_id) if mapping.staff_id and provider.users == "staff" else None
    roles, org = _roles(claims.get(mapping.roles) if mapping.roles else None)
    aal = claims.get(mapping.aal) if mapping.aal else None
    aal = str(aal) if str(aal) in ("1", "2", "3") else None
    if mapping.org and isinstance(claims.get(mapping.org), str):
        org = claims[mapping.org]
    return Identity(claims["sub"], str(proofing), vot, methods or ("fed",), nhs or None,
                    staff if isinstance(staff, str) and staff else None, roles, org, aal)


# NHS login's credential components: Cp a password, Cd a one-time code, Ck a device key, Cm a biometric on a device
_VOT_METHODS = {"Cp": "pwd", "Cd": "otp", "Ck": "hwk", "Cm": "mfa"}


def _roles(value: object) -> tuple[tuple[str, ...], str | None]:
    """Role codes and an organisation from a roles claim: plain codes, or CIS2 role objects whose role_code is
    colon-separated codes (`S8000:G8000:R8000`) and whose org_code is the ODS code."""
    if not isinstance(value, list):
        return (), None
    roles: list[str] = []
    org = None
    for item in value:
        if isinstance(item, str):
            roles.extend(c for c in item.split(":") if c)
        elif isinstance(item, dict) and isinstance(item.get("role_code"), str):
            roles.extend(c for c in item["role_code"].split(":") if c)
            if org is None and isinstance(item.get("org_code"), str):
                org = item["org_code"]
    return tuple(dict.fromkeys(roles)), org


def _numeric(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _get_json(url: str, provider: Provider) -> dict:
    try:
        response = httpx.get(url, timeout=10, follow_redirects=False)
        data = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        data = None
    if not isinstance(data, dict):
        raise FederationError(f"{provider.title} could not be reached or gave an unreadable answer; try again "
                              "later.", 502)
    return data
