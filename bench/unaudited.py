"""The baseline server for the read benchmarks: `caregate serve --no-auth` with the audit trail off as well.

caregate itself has no switch to stop auditing (an unaudited production server is not something to offer), so
the benchmark builds the same app, served by uvicorn with the same settings, and only drops the audit log.

    python -m bench.unaudited serve --no-auth --port P --database URL [--workers N]   (as `caregate serve`)
"""

from __future__ import annotations

import argparse
import os

import uvicorn

from caregate.app import build, settled
from caregate.config import Settings


def from_env():
    """Factory for uvicorn's worker processes, as `caregate.app:from_env` with the audit off."""
    settings = Settings.from_env()
    app = build(settings, access_log=False)
    app.app.fhir.audit = None
    return settled(app)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("--no-auth", action="store_true", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("CAREGATE_WORKERS", "1")))
    args = parser.parse_args()
    os.environ.update({"CAREGATE_DATABASE_URL": args.database, "CAREGATE_HOST": args.host,
                       "CAREGATE_PORT": str(args.port), "CAREGATE_NO_AUTH": "1", "CAREGATE_ACCESS_LOG": "0"})
    if args.workers > 1:
        uvicorn.run("bench.unaudited:from_env", factory=True, workers=args.workers, host=args.host, port=args.port,
                    log_config=None, access_log=False, lifespan="on")
    else:
        uvicorn.run(from_env(), host=args.host, port=args.port, log_config=None, access_log=False, lifespan="on")


if __name__ == "__main__":
    main()
