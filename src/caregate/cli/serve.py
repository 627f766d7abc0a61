"""`caregate serve`: run the FHIR server."""

from __future__ import annotations

import logging
import os
from dataclasses import replace

import click

from caregate.cli.options import database_option
from caregate.config import Settings, is_loopback


def _export(name: str, value: str | None) -> None:
    """Options that only the application reads go to it, and to worker processes, as CAREGATE_* variables."""
    if value:
        os.environ[name] = value


def _federation(path: str | None) -> None:
    """The federation file is read before serving, so a mistake in it stops the server with the reason."""
    path = path or os.environ.get("CAREGATE_FEDERATION")
    if not path:
        return
    from caregate.auth.federation import ConfigError, load

    try:
        load(path)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--federation") from None
    _export("CAREGATE_FEDERATION", os.path.abspath(path))


@click.command()
@click.option("--host", envvar="CAREGATE_HOST", default="127.0.0.1", show_default=True)
@click.option("--port", envvar="CAREGATE_PORT", default=8080, type=int, show_default=True)
@database_option
@click.option("--no-auth", is_flag=True, envvar="CAREGATE_NO_AUTH",
              help="Serve without authentication: loopback addresses only, for development.")
@click.option("--sandbox", is_flag=True, envvar="CAREGATE_SANDBOX",
              help="Open dynamic client registration and, on a fresh database, create and print sandbox accounts.")
@click.option("--federation", metavar="FILE", expose_value=False, callback=lambda c, p, v: _federation(v),
              help="Trust the OpenID Connect providers this TOML file describes (see the README).")
@click.option("--min-proofing", type=click.Choice(["P5", "P9"]), expose_value=False,
              callback=lambda c, p, v: _export("CAREGATE_MIN_PROOFING", v),
              help="The identity proofing level a patient needs to reach their record (NHS login levels).")
@click.option("--demo", type=int, default=0, metavar="N",
              help="Load N synthetic demo patients first when the store is empty.")
@click.option("--access-log/--no-access-log", default=True, envvar="CAREGATE_ACCESS_LOG")
@click.option("--workers", type=int, default=1, envvar="CAREGATE_WORKERS", show_default=True,
              help="Server processes; more than one uses more cores.")
@click.option("--validate", "validation", type=click.Choice(["strict", "lenient", "off"]), default="lenient",
              envvar="CAREGATE_VALIDATION", show_default=True,
              help="Validate writes: lenient rejects base-specification errors, strict also what a declared "
                   "profile rejects, off skips validation.")
@click.option("--policy", "policy_file", default=None, envvar="CAREGATE_POLICY", metavar="FILE",
              type=click.Path(dir_okay=False),
              help="Access policy (TOML): roles, purposes, relationships and sensitivity labels; checked before "
                   "serving. Default: the built-in policy.")
def serve(host: str, port: int, database: str | None, no_auth: bool, sandbox: bool, demo: int, access_log: bool,
          workers: int, validation: str, policy_file: str | None) -> None:
    """Serve FHIR R4 at http://HOST:PORT/fhir."""
    import uvicorn

    from caregate.app import build, settled
    from caregate.policy.rules import PolicyError, load_policy
    from caregate.web.observe import configure_logging

    if no_auth and not is_loopback(host):
        raise click.UsageError(f"--no-auth serves anyone who can connect: refusing to bind {host}, "
                               "which is not a loopback address.")
    if no_auth and sandbox:
        raise click.UsageError("--sandbox is a way to try authentication: it does not go with --no-auth.")
    settings = Settings.from_env(host=host, port=port, database_url=database, no_auth=no_auth, workers=workers,
                                 access_log=access_log, sandbox=sandbox)
    settings = replace(settings, validation=validation, policy=policy_file or settings.policy)
    try:
        load_policy(settings.policy)
    except PolicyError as exc:
        raise click.ClickException("the access policy is not valid:\n" + str(exc)) from None
    configure_logging(settings.log_level)
    if demo:
        from caregate.cli.synth import load_demo

        load_demo(settings.database_url, demo)
    if sandbox:
        from caregate.auth.sandbox import provision
        from caregate.auth.service import AuthService

        for line in provision(AuthService(settings.database_url, settings.fhir_base), settings.database_url):
            click.echo(line)  # the terminal only: never the logs
    logging.getLogger("caregate").info("serving FHIR R4", extra={"fields": {"base": settings.fhir_base}})
    if settings.workers > 1:
        # Worker processes rebuild the app from the environment, so hand every setting over through it.
        os.environ.update({"CAREGATE_DATABASE_URL": settings.database_url, "CAREGATE_HOST": host,
                           "CAREGATE_PORT": str(port), "CAREGATE_BASE_URL": settings.fhir_base,
                           "CAREGATE_VALIDATION": settings.validation, "CAREGATE_POLICY": settings.policy,
                           "CAREGATE_ACCESS_LOG": "1" if access_log else "0",
                           "CAREGATE_NO_AUTH": "1" if no_auth else "0", "CAREGATE_SANDBOX": "1" if sandbox else "0"})
        uvicorn.run("caregate.app:from_env", factory=True, workers=settings.workers, host=host, port=port,
                    log_config=None, access_log=False, lifespan="on")
        return
    app = settled(build(settings, access_log=access_log))
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False, lifespan="on")
