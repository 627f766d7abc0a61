"""Memory of `caregate load` on a large NDJSON file: a bulk export must load in flat memory, whatever its size.

The loader runs as the command people run (`python -m caregate load FILE`), in its own process, and reports its
own VmHWM (the kernel's high-water mark of its resident memory) as it exits, so no sampling can miss the peak.
Not `wait4`'s ru_maxrss: Linux carries the parent's high-water mark across fork and exec into it, and this
process holds the benchmark's data, so that figure would be the benchmark's memory, not the loader's.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench import data
from bench.procs import ROOT
from bench.report import Row, Target

RSS_TARGET_MB = 300.0

# `python -m caregate` that writes its VmHWM (KiB) to $BENCH_PEAK_FILE on the way out.
_WITH_PEAK = """\
import atexit, os, runpy, sys

def _peak():
    with open('/proc/self/status') as status:
        kib = next(line.split()[1] for line in status if line.startswith('VmHWM:'))
    with open(os.environ['BENCH_PEAK_FILE'], 'w') as out:
        out.write(kib)

atexit.register(_peak)
sys.argv[0] = 'caregate'
runpy.run_module('caregate', run_name='__main__', alter_sys=True)
"""


def run(megabytes: int, scratch: Path) -> list[Row]:
    made = time.perf_counter()
    path, count = data.ndjson(megabytes)
    made = time.perf_counter() - made
    size_mb = path.stat().st_size / 1e6
    log, peak_file = scratch / "load.log", scratch / "load.peak"
    with open(log, "wb") as err:
        result = subprocess.run(
            [sys.executable, "-c", _WITH_PEAK, "load", str(path), "--database", f"sqlite:///{scratch / 'load.db'}"],
            stdout=subprocess.PIPE, stderr=err, cwd=ROOT,
            env={**os.environ, "CAREGATE_LOG_LEVEL": "warning", "BENCH_PEAK_FILE": str(peak_file)},
        )
    output = result.stdout.decode(errors="replace")
    if log.stat().st_size:  # the loader's problems, one line per record: kept, since the scratch folder is not
        shutil.copyfile(log, data.DATA_DIR.parent / "load-stderr.log")
    peak_mb = int(peak_file.read_text()) / 1024 if peak_file.exists() else None
    loaded = re.search(r"Loaded (\d+) resources .*?; (\d+) failed \(([\d.]+) s, ([\d,]+) resources/s\)", output)
    note = f"{count:,} resources from caregate.synth"
    if made > 1:
        note += f" (generated in {made:.0f} s, cached in bench/out/data)"
    if loaded:
        note += f"; loaded at {loaded.group(4)} resources/s in {loaded.group(3)} s"
        if loaded.group(2) != "0":
            note += f"; {loaded.group(2)} FAILED (bench/out/load-stderr.log)"
    else:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] or [output.strip()]
        note += f"; load exited {result.returncode}: {tail[0][:150]}"
    return [Row("memory", f"peak RSS of `caregate load` on a {size_mb:,.0f} MB NDJSON file (SQLite)", peak_mb, "MB",
                targets=(Target("<=", RSS_TARGET_MB),), note=note)]
