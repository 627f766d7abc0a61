"""caregate's benchmarks: `python -m bench` measures ingest, read, a CRUD mix and memory, each beside a baseline
measured in the same run on the same machine, so the figures can be compared across machines by their ratios.

Figures are printed (and saved to `bench/out/latest.txt`), never asserted: a benchmark that fails a build on a
noisy machine teaches people to ignore it.
"""
