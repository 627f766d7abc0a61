"""The sign-in, consent and error pages: server-rendered HTML that works without JavaScript, with labels,
landmarks and error summaries a screen reader announces (WCAG 2.2 AA patterns, GOV.UK/NHS style)."""

from __future__ import annotations

from html import escape

from caregate.policy.scopes import Scope, ScopeError, parse_scope

_STYLE = ("body{font-family:Arial,sans-serif;margin:0;background:#f0f4f5;color:#212b32}"
          "main{max-width:32rem;margin:2rem auto;background:#fff;padding:2rem;border-radius:4px}"
          "label{display:block;font-weight:bold;margin-top:1rem}"
          "input[type=text],input[type=password]{width:100%;padding:.5rem;font-size:1rem;border:2px solid #4c6272}"
          "input:focus,button:focus{outline:3px solid #ffeb3b}"
          "button{margin-top:1.5rem;margin-right:1rem;padding:.6rem 1.2rem;font-size:1rem;border:0;"
          "background:#007f3b;color:#fff;cursor:pointer}button.secondary{background:#4c6272}"
          ".error{border-left:5px solid #d5281b;padding-left:1rem;color:#d5281b}")
_ACTIONS = {"c": "create", "r": "read", "u": "update", "d": "delete", "s": "search"}
_CONTEXT = {"patient": "your own record", "user": "records you can see", "system": "all records"}
_OTHER = {"openid": "Know who you are", "fhirUser": "Know which person's record is yours",
          "profile": "See your name", "launch": "Know which patient record is open in your clinical system",
          "launch/patient": "Know which patient record to open",
          "offline_access": "Stay connected when you are not using it (until you revoke it)",
          "online_access": "Stay connected while you are signed in"}


def describe(scope: str, chosen: bool = False) -> str:
    """A scope in plain language, for the consent page; `chosen`: patient scopes are for a patient a member of
    staff chose, not the person's own record."""
    try:
        parsed: Scope | None = parse_scope(scope)
    except ScopeError:
        return scope
    if parsed is None:
        return _OTHER.get(scope, scope)
    actions = [name for letter, name in _ACTIONS.items() if letter in parsed.letters]
    what = "all kinds of data" if parsed.type == "*" else f"{parsed.type} resources"
    where = "this patient's record" if chosen and parsed.context == "patient" else _CONTEXT[parsed.context]
    text = f"{', '.join(actions).capitalize()} {what} in {where}"
    if parsed.query:
        text += " (only where " + ", ".join(f"{k} is {v}" for k, v in parsed.query) + ")"
    return text


def page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)} - caregate</title><style>{_STYLE}</style></head>"
            f"<body><main id=\"main\"><h1>{escape(title)}</h1>{body}</main></body></html>")


def sign_in_page(params: dict[str, str], app_name: str, error: str | None = None,
                 providers: list[tuple[str, str]] | tuple = (), local: bool = True) -> str:
    """The user name and password form (unless local sign-in is off) and a "Sign in with <provider>" button
    for each trusted identity provider; every form carries the app's authorization request along."""
    hidden = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in params.items()
                     if k not in ("username", "password", "provider"))
    alert = (f'<div class="error" role="alert" id="error-summary"><h2>There is a problem</h2><p>{escape(error)}</p>'
             "</div>") if error else ""
    described = ' aria-describedby="error-summary"' if error else ""
    body = f"{alert}<p>{escape(app_name)} is asking you to sign in to caregate.</p>"
    for name, title in providers:
        body += (f'<form method="post" action="/auth/federation/start">{hidden}'
                 f'<button type="submit" name="provider" value="{escape(name)}">Sign in with {escape(title)}</button>'
                 "</form>")
    if local:
        if providers:
            body += "<h2>Or sign in with a caregate account</h2>"
        body += (f'<form method="post" action="/auth/authorize">{hidden}'
                 f'<label for="username">User name</label><input type="text" id="username" name="username" '
                 f'autocomplete="username" required{described}>'
                 f'<label for="password">Password</label><input type="password" id="password" '
                 f'name="password" autocomplete="current-password" required{described}>'
                 f'<button type="submit">Sign in</button></form>')
    return page("Sign in", body)


def picker_page(ticket: str, query: str = "", results: list | None = None, error: str | None = None,
                more: bool = False) -> str:
    """For a member of staff whose app asks for a patient context no EHR launch gave: find the patient by name
    or NHS number, then choose them. `results` are `PatientChoice`s (None before any search); `more`: others
    match too, so the person should narrow the search."""
    alert = (f'<div class="error" role="alert" id="error-summary"><h2>There is a problem</h2><p>{escape(error)}</p>'
             "</div>") if error else ""
    ticket_field = f'<input type="hidden" name="ticket" value="{escape(ticket)}">'
    body = (f"{alert}<p>The app needs to know which patient's record to open.</p>"
            f'<form method="post" action="/auth/pick" role="search">{ticket_field}'
            f'<label for="q">Name or NHS number</label><p id="q-hint">For example Smith, or 943 476 5919.</p>'
            f'<input type="text" id="q" name="q" value="{escape(query)}" required aria-describedby="q-hint">'
            f'<button type="submit">Search</button></form>')
    if results is not None:
        count = len(results)
        found = f"More than {count} patients found" if more else f'{count} patient{"" if count == 1 else "s"} found'
        body += f'<h2 id="results" role="status">{found}</h2>'
        if more:
            body += f"<p>Only the first {count} are shown: add more of the name, or search by NHS number.</p>"
        if results:
            body += '<ul aria-labelledby="results">'
            for r in results:
                details = ", ".join(x for x in (f"born {r.birth_date}" if r.birth_date else "",
                                                f"NHS number {r.nhs_number}" if r.nhs_number else "") if x)
                body += (f'<li><form method="post" action="/auth/pick">{ticket_field}'
                         f'<input type="hidden" name="patient" value="{escape(r.id)}">'
                         f"<strong>{escape(r.name)}</strong> {escape(details)} "
                         f'<button type="submit" aria-label="Choose {escape(r.name)}">Choose</button></form></li>')
            body += "</ul>"
        else:
            body += "<p>Check the spelling or the number, or search by the other.</p>"
    return page("Choose the patient", body)


def code_page(ticket: str, error: str | None = None) -> str:
    """The second step for users with an authenticator app: a six-digit code, or a recovery code."""
    alert = (f'<div class="error" role="alert" id="error-summary"><h2>There is a problem</h2><p>{escape(error)}</p>'
             "</div>") if error else ""
    described = ' aria-describedby="code-hint error-summary"' if error else ' aria-describedby="code-hint"'
    return page("Enter your security code", f"{alert}"
                f'<form method="post" action="/auth/verify">'
                f'<input type="hidden" name="ticket" value="{escape(ticket)}">'
                f'<label for="code">Security code</label><p id="code-hint">The 6-digit code from your authenticator '
                f"app, or one of your recovery codes.</p>"
                f'<input type="text" id="code" name="code" autocomplete="one-time-code" required{described}>'
                f'<button type="submit">Continue</button></form>')


def consent_page(ticket: str, app_name: str, user: str, scope: str, patient: str | None = None) -> str:
    """`patient`: the record chosen on the picker, named so the person sees which one the app will open."""
    items = "".join(f"<li>{escape(describe(s, bool(patient)))} <small>({escape(s)})</small></li>"
                    for s in scope.split())
    chosen = f"<p>Patient: <strong>{escape(patient)}</strong>.</p>" if patient else ""
    return page("Allow access?", f"<p>Signed in as <strong>{escape(user)}</strong>.</p>{chosen}"
                                 f"<p><strong>{escape(app_name)}</strong> would like to:</p><ul>{items}</ul>"
                                 f'<form method="post" action="/auth/consent">'
                                 f'<input type="hidden" name="ticket" value="{escape(ticket)}">'
                                 f'<button type="submit" name="decision" value="allow">Allow</button>'
                                 f'<button type="submit" name="decision" value="deny" class="secondary">Deny</button>'
                                 f"</form>")


def error_page(message: str) -> str:
    return page("Sign-in cannot continue", f'<div class="error" role="alert"><p>{escape(message)}</p></div>')
