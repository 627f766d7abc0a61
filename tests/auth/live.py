"""`caregate serve` with authentication on, as a real process on a free loopback port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.e2e.server import free_port


class LiveServer:
    def __init__(self, database_url: str, log: Path, *extra: str) -> None:
        self.port = free_port()
        self.root = f"http://127.0.0.1:{self.port}"
        self.base = f"{self.root}/fhir"
        env = {**os.environ, "CAREGATE_ACCESS_LOG": "0"}
        self._log = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([sys.executable, "-m", "caregate", "serve", "--port", str(self.port),
                                      "--database", database_url, *extra],
                                     stdout=subprocess.PIPE, stderr=self._log, env=env)
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.root}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server did not start: {log.read_text(errors='replace')}")
            time.sleep(0.05)

    def stop(self) -> str:
        """Stop the server; what it printed on the terminal (stdout)."""
        self.proc.terminate()
        try:
            out, _ = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        self._log.close()
        return out.decode(errors="replace") if out else ""
