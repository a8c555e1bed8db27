"""Reruns made by `lineage reproduce` in `log`, `show` and `impact`: marked as reruns, shown
under the run they reproduced, left out of upstream joins and impact counts.

The scenario is tests/scenarios.py's trained project (built privately: reproducing writes
records), with R3 (`dvc repro`: data/raw.csv v2 -> data/prepared) reproduced once. Its rerun
wrote data/prepared with the same md5, which R4 read.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from typing import Any

import pytest

from tests.helpers import lineage
from tests.scenarios import Trained, build_trained


@dataclass(frozen=True)
class Reproduced:
    trained: Trained
    rerun: str  # the rerun's run key
    verdict: str

    def lineage(self, *args: str) -> subprocess.CompletedProcess[str]:
        return lineage(self.trained.repo, *args, env=self.trained.env)

    def json(self, *args: str) -> Any:
        return json.loads(self.lineage(*args, "--json").stdout)


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory: pytest.TempPathFactory) -> Reproduced:
    trained = build_trained(tmp_path_factory.mktemp("reruns"))
    proc = lineage(
        trained.repo, "reproduce", trained.runs["R3"], "--json", env=trained.env, check=False
    )
    out = json.loads(proc.stdout)
    assert out["rerun"] is not None, proc.stderr
    return Reproduced(trained, out["rerun"]["run"], out["verdict"])


def test_log_hides_reruns_and_says_how_many(reproduced: Reproduced) -> None:
    runs = reproduced.trained.runs
    proc = reproduced.lineage("log")

    assert [line.split()[2] for line in proc.stdout.splitlines()] == [
        runs[name][:12] for name in ("R4", "R3", "R5", "R2", "R1")
    ]
    assert proc.stderr == (
        "hint: 1 rerun made by `lineage reproduce` is hidden; `lineage log --all` lists them\n"
    )
    assert [e["run"] for e in reproduced.json("log")] == [
        runs[name] for name in ("R4", "R3", "R5", "R2", "R1")
    ]


def test_log_all_lists_the_rerun_marked_with_the_run_it_reproduced(
    reproduced: Reproduced,
) -> None:
    r3 = reproduced.trained.runs["R3"]
    proc = reproduced.lineage("log", "--all")

    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert len(lines) == 6
    assert lines[0].split()[2] == reproduced.rerun[:12]  # the newest
    assert lines[0].endswith(f"  (rerun of {r3[:12]})")
    assert not any("rerun of" in line for line in lines[1:])
    entries = reproduced.json("log", "--all")
    assert [(e["run"], e["reproduces"]) for e in entries][:2] == [
        (reproduced.rerun, r3),
        (reproduced.trained.runs["R4"], None),
    ]


def test_impact_counts_no_rerun(reproduced: Reproduced) -> None:
    runs = reproduced.trained.runs
    doc = reproduced.json("impact", reproduced.trained.raw["v2"], "--no-aliases")
    assert [r["run"] for r in doc["runs"]] == [runs["R4"], runs["R3"]]

    text = reproduced.lineage("impact", reproduced.trained.prepared, "--no-aliases").stdout
    assert text.splitlines()[0].endswith(": 1 model version and 1 run depend on it")
    assert reproduced.rerun[:12] not in text


def test_show_of_a_later_run_names_the_original_producer_of_its_input(
    reproduced: Reproduced,
) -> None:
    runs = reproduced.trained.runs
    text = reproduced.lineage("show", runs["R4"]).stdout

    prepared = next(line for line in text.splitlines() if "data/prepared" in line)
    assert prepared.endswith(f"(made by run {runs['R3'][:12]})")
    assert reproduced.rerun[:12] not in text


def test_show_of_the_original_lists_its_reproductions_with_their_verdicts(
    reproduced: Reproduced,
) -> None:
    text = reproduced.lineage("show", reproduced.trained.runs["R3"]).stdout
    lines = text.splitlines()

    at = lines.index("reproduced by `lineage reproduce`, newest first:")
    assert lines[at + 1].split()[1:] == [reproduced.verdict, "rerun", reproduced.rerun]
    doc = reproduced.json("show", reproduced.trained.runs["R3"])
    assert [(r["rerun"], r["verdict"]) for r in doc["reproductions"]] == [
        (reproduced.rerun, reproduced.verdict)
    ]
    assert doc["reproduces"] is None


def test_show_of_a_rerun_says_what_it_reproduced(reproduced: Reproduced) -> None:
    r3 = reproduced.trained.runs["R3"]
    text = reproduced.lineage("show", reproduced.rerun).stdout

    assert f"rerun of  {r3} by `lineage reproduce`" in text.splitlines()
    doc = reproduced.json("show", reproduced.rerun)
    assert doc["reproduces"] == r3 and doc["record"]["reproduces"] == r3
