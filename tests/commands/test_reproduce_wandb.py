"""`lineage reproduce` of a run that tracked with W&B only (the real wandb package)."""

from __future__ import annotations

import pytest

from tests.scenarios import Recorded
from tests.wandb_helpers import build_unwrapped


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Recorded, str, str]:
    """A W&B-only run recorded by `lineage run`, reproduced once with W&B left online in the
    user's environment: (project, its run key, what reproduce printed)."""
    made = build_unwrapped(tmp_path_factory.mktemp("reproduced"))
    made.lineage("run", "--", "python", "train.py", "4")
    [key] = [e["run"] for e in made.json("log") if e["evidence"] == "observed"]
    online = {k: v for k, v in made.env.items() if k != "WANDB_MODE"}
    result = Recorded(made.repo, online).lineage("reproduce", key, "--yes")
    return made, key, result.stdout


def test_a_wandb_run_is_rerun_and_compared_by_summary_and_artifact_digests(
    reproduced: tuple[Recorded, str, str],
) -> None:
    _, key, stdout = reproduced
    assert f"Reproduce {key}\n" in stdout
    assert "  score   0.4       0.4    exact\n" in stdout
    assert (
        "  wandb:raw/raw.csv  bbd304055be67c211495c95f4e697eb2  "
        "bbd304055be67c211495c95f4e697eb2  exact\n"
    ) in stdout
    assert "Verdict: bit-identical — 1 metric exact, 1 W&B artifact file byte-identical" in stdout


def test_the_rerun_s_wandb_run_stays_offline(reproduced: tuple[Recorded, str, str]) -> None:
    made, key, _ = reproduced
    [reproduction] = made.json("show", key)["reproductions"]
    rerun = made.json("show", reproduction["rerun"])["record"]
    assert rerun["wandb"]["offline"] is True and rerun["reproduces"] == key
