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


def describe(scope: str) -> str:
    """A scope in plain language, for the consent page."""
    try:
        parsed: Scope | None = parse_scope(scope)
    except ScopeError:
        return scope
    if parsed is None:
        return _OTHER.get(scope, scope)
    actions = [name for letter, name in _ACTIONS.items() if letter in parsed.letters]
    what = "all kinds of data" if parsed.type == "*" else f"{parsed.type} resources"
    text = f"{', '.join(actions).capitalize()} {what} in {_CONTEXT[parsed.context]}"
    if parsed.query:
        text += " (only where " + ", ".join(f"{k} is {v}" for k, v in parsed.query) + ")"
    return text


def page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)} - caregate</title><style>{_STYLE}</style></head>"
            f"<body><main id=\"main\"><h1>{escape(title)}</h1>{body}</main></body></html>")


def sign_in_page(params: dict[str, str], app_name: str, error: str | None = None) -> str:
    hidden = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in params.items()
                     if k not in ("username", "password"))
    alert = (f'<div class="error" role="alert" id="error-summary"><h2>There is a problem</h2><p>{escape(error)}</p>'
             "</div>") if error else ""
    described = ' aria-describedby="error-summary"' if error else ""
    return page("Sign in", f"{alert}<p>{escape(app_name)} is asking you to sign in to caregate.</p>"
                           f'<form method="post" action="/auth/authorize">{hidden}'
                           f'<label for="username">User name</label><input type="text" id="username" name="username" '
                           f'autocomplete="username" required{described}>'
                           f'<label for="password">Password</label><input type="password" id="password" '
                           f'name="password" autocomplete="current-password" required{described}>'
                           f'<button type="submit">Sign in</button></form>')


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


def consent_page(ticket: str, app_name: str, user: str, scope: str) -> str:
    items = "".join(f"<li>{escape(describe(s))} <small>({escape(s)})</small></li>" for s in scope.split())
    return page("Allow access?", f"<p>Signed in as <strong>{escape(user)}</strong>.</p>"
                                 f"<p><strong>{escape(app_name)}</strong> would like to:</p><ul>{items}</ul>"
                                 f'<form method="post" action="/auth/consent">'
                                 f'<input type="hidden" name="ticket" value="{escape(ticket)}">'
                                 f'<button type="submit" name="decision" value="allow">Allow</button>'
                                 f'<button type="submit" name="decision" value="deny" class="secondary">Deny</button>'
                                 f"</form>")


def error_page(message: str) -> str:
    return page("Sign-in cannot continue", f'<div class="error" role="alert"><p>{escape(message)}</p></div>')
