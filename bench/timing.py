"""Timing fresh processes: run the compared commands alternately and keep every sample.

Every measurement is one new process started with ``subprocess.run`` and timed with
``time.perf_counter`` around it, so the numbers include interpreter start and imports: the cost a
user pays per command. Cases are run round-robin (A, B, C, A, B, C, ...) so load from other
processes on the machine drifts over all of them alike, and paired differences (B - A within one
round) cancel most of what is left.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

STAMP = "bench-t"  # lines "bench-t NAME EPOCH_SECONDS" a child prints to mark a moment
HEAVY = ("mlflow", "dvc", "networkx")  # modules the read-only commands must never import

# One measurement: starts fresh process(es), returns named values in seconds ("wall" at least).
Probe = Callable[[], Mapping[str, float]]


class BenchError(RuntimeError):
    """A command the benchmark depends on failed: the numbers would be meaningless."""


@dataclass(frozen=True)
class Summary:
    n: int
    median: float
    minimum: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Summary:
        if not samples:
            raise BenchError("no samples")
        return cls(len(samples), statistics.median(samples), min(samples))

    @property
    def median_ms(self) -> float:
        return self.median * 1000

    @property
    def min_ms(self) -> float:
        return self.minimum * 1000


def _fail(argv: Sequence[str | Path], proc: subprocess.CompletedProcess[str]) -> BenchError:
    tail = "\n".join((proc.stderr or "").strip().splitlines()[-15:])
    return BenchError(f"`{' '.join(map(str, argv))}` exited {proc.returncode}:\n{tail}")


def run(
    argv: Sequence[str | Path],
    *,
    cwd: Path,
    env: Mapping[str, str],
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a setup command (untimed); fail loudly with its stderr."""
    proc = subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    if check and proc.returncode != 0:
        raise _fail(argv, proc)
    return proc


def timed(
    argv: Sequence[str | Path],
    *,
    cwd: Path,
    env: Mapping[str, str],
    expect: str | None = None,
) -> dict[str, float]:
    """Wall time of one fresh process, plus every ``bench-t`` stamp it printed, relative to the
    moment just before it was spawned (both in seconds)."""
    args = [str(a) for a in argv]
    environ = dict(env)
    spawned_at = time.time()
    start = time.perf_counter()
    proc = subprocess.run(
        args,
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise _fail(argv, proc)
    if expect is not None and expect not in proc.stdout:
        raise BenchError(f"`{' '.join(args)}` did not print {expect!r}:\n{proc.stdout[-2000:]}")
    values = {"wall": wall}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == STAMP:
            values[parts[1]] = float(parts[2]) - spawned_at
    return values


def alternate(
    cases: Mapping[str, Probe],
    *,
    repeats: int,
    warmup: int = 1,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, dict[str, list[float]]]:
    """Run every case once per round, always in the same order, for ``warmup`` unrecorded
    rounds and then ``repeats`` recorded ones; return case -> value name -> samples."""
    samples: dict[str, dict[str, list[float]]] = {name: {} for name in cases}
    for round_ in range(warmup + repeats):
        recorded = round_ >= warmup
        label = f"round {round_ - warmup + 1}/{repeats}" if recorded else "warm-up"
        started = time.perf_counter()
        for name, probe in cases.items():
            values = probe()
            if recorded:
                for key, value in values.items():
                    samples[name].setdefault(key, []).append(value)
        progress(f"{label} ({time.perf_counter() - started:.1f} s)")
    return samples


def paired(a: Sequence[float], b: Sequence[float]) -> list[float]:
    """b - a, round by round."""
    return [y - x for x, y in zip(a, b, strict=True)]


# -X importtime


@dataclass(frozen=True)
class ImportProfile:
    total_s: float  # sum of every module's own import time
    modules: tuple[tuple[str, float], ...]  # (module, self seconds), in import order

    def imported(self, root: str) -> bool:
        return any(m == root or m.startswith(root + ".") for m, _ in self.modules)

    def by_package(self) -> list[tuple[str, int, float]]:
        """(top-level package, number of modules, summed self time), most expensive first."""
        totals: dict[str, tuple[int, float]] = {}
        for module, seconds in self.modules:
            root = module.partition(".")[0]
            count, total = totals.get(root, (0, 0.0))
            totals[root] = (count + 1, total + seconds)
        return sorted(((k, c, t) for k, (c, t) in totals.items()), key=lambda x: -x[2])


_IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)\s*$")


def parse_importtime(stderr: str) -> ImportProfile:
    modules = []
    for line in stderr.splitlines():
        if m := _IMPORT_LINE.match(line):
            modules.append((m[4], int(m[1]) / 1e6))
    if not modules:
        raise BenchError("no -X importtime output found")
    return ImportProfile(sum(s for _, s in modules), tuple(modules))


def import_profile(
    args: Sequence[str | Path],
    *,
    cwd: Path,
    env: Mapping[str, str],
    python: str = sys.executable,
) -> ImportProfile:
    """``python -X importtime -m lineage ARGS`` in a fresh process."""
    proc = run([python, "-X", "importtime", "-m", "lineage", *args], cwd=cwd, env=env)
    return parse_importtime(proc.stderr)
