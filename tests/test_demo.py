"""The README's first command ends in examples/demo.sh: run it for real, as a newcomer would."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.conftest import sh

ROOT = Path(__file__).resolve().parent.parent


def test_demo_trains_twice_registers_aliases_and_shows_the_champion(tmp_path: Path) -> None:
    proc = sh("bash", ROOT / "examples" / "demo.sh", tmp_path / "demo", cwd=tmp_path)
    out = proc.stdout
    project = tmp_path / "demo" / "project"

    log = lineage_lines(out, "$ lineage log", "### What exactly")
    assert len(log) == 2
    assert [line.split()[-1] for line in log] == ["churn-model/2", "churn-model/1"]
    assert all(re.search(r"roc_auc=0\.8\d+", line) for line in log)

    show = out[out.index("$ lineage show churn-model@champion") :]
    assert "model churn-model/2   (churn-model@champion)" in show
    assert "train.max_depth=12" in show
    assert "models/model.pkl" in show and "stages    train  (from dvc.lock)" in show
    # v2 only reran `train`; its input was prepared by v1's run, and show says so.
    v1_run = log[1].split()[2]
    assert re.search(rf"data in   data/prepared .*\(made by run {v1_run}\)", show)

    # The champion's provenance is drawn by the real `dot`, every node labelled.
    svg = ET.parse(tmp_path / "demo" / "champion-provenance.svg").getroot()
    labels = {t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")}
    assert {"churn-model v2", "@champion", "data/prepared", "data/raw/customers.csv"} <= labels
    assert f"drawn to {tmp_path / 'demo' / 'champion-provenance.svg'}" in out

    # The champion is rebuilt in a worktree: same metrics to the last bit, same model file.
    rebuilt = out[out.index("$ lineage reproduce churn-model@champion") :]
    assert "command   dvc repro -q --force --single-item train" in rebuilt
    assert re.search(r"\n  roc_auc +0\.8\d+ +0\.8\d+ +exact\n", rebuilt)
    assert re.search(r"\n  models/model.pkl +([0-9a-f]{32}) +\1 +exact\n", rebuilt)
    # MLflow's three metrics, and the same three read from metrics.json (DVC's, by value).
    assert re.search(r"\n  metrics.json:roc_auc +0\.8\d+ +0\.8\d+ +exact\n", rebuilt)
    assert "\nVerdict: bit-identical — 6 metrics exact, 1 DVC output byte-identical" in rebuilt
    assert "lineage: warning" not in out

    # The audit of aliased versions passes: observed, clean, pushed, in the DVC remote, rebuilt.
    audited = out[out.index("$ lineage audit") :]
    assert re.search(r"\nchurn-model/2 +@champion +✓ +✓ +✓ +✓ +✓\n", audited)
    assert "audit passed: 1 model version(s)" in audited

    # The project is left as a user would have it: committed, data pushed to the DVC remote.
    assert sh("git", "status", "--porcelain", cwd=project).stdout == ""
    status = sh("dvc", "status", "--cloud", "--json", cwd=project).stdout
    assert json.loads(status) == {}
    heads = sh("git", "log", "--format=%s", cwd=project).stdout.splitlines()
    assert heads[0] == "Train churn model v2" and len(heads) == 4


def lineage_lines(out: str, start: str, end: str) -> list[str]:
    block = out[out.index(start) + len(start) : out.index(end)]
    return [line for line in block.splitlines() if line.strip() and not line.startswith("\x1b")]
