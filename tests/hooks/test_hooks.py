"""Git hooks as a user meets them: `lineage hooks install`, then real `git commit` and `git push`
through the installed shims (and through the pre-commit framework), in real git + DVC repos."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lineage import config
from lineage.adapters import dvc, dvc_hash
from lineage.hooks import quick
from lineage.hooks.dispatch import parse_push_lines
from lineage.hooks.install import PREVIOUS, SHIM_MARK, install
from tests.conftest import sh
from tests.helpers import TRAIN as MLFLOW_TRAIN
from tests.helpers import lineage, lineage_json, write

ROOT = Path(__file__).resolve().parents[2]
NO_VERIFY = "or commit with --no-verify"
# A pipeline stage: reads data/raw.csv, writes a DVC-cached model and a git-tracked metrics file.
TRAIN = """\
import json
rows = open("data/raw.csv").read().splitlines()
SCALE = 1
open("model.txt", "w").write(f"{len(rows) * SCALE}\\n")
json.dump({"rows": len(rows) * SCALE}, open("metrics.json", "w"))
"""
STAGE = (
    "dvc", "stage", "add", "-q", "-n", "train", "-d", "src/train.py", "-d", "data/raw.csv",
    "-o", "model.txt", "-M", "metrics.json", "python src/train.py",
)  # fmt: skip


def commit(repo: Path, *args: str, message: str = "change") -> subprocess.CompletedProcess[str]:
    """A real `git commit` through whatever hooks are installed."""
    return sh("git", "commit", "-q", "-m", message, *args, cwd=repo, check=False)


def head(repo: Path) -> str:
    return sh("git", "rev-parse", "HEAD", cwd=repo).stdout.strip()


@pytest.fixture
def hooked(dvc_repo: Path) -> Path:
    """dvc_repo with `lineage init` committed and lineage's hooks installed."""
    lineage(dvc_repo, "init")
    sh("git", "add", ".lineage", cwd=dvc_repo)
    sh("git", "commit", "-q", "-m", "Set up lineage", cwd=dvc_repo)
    out = lineage(dvc_repo, "hooks", "install").stdout
    assert out == (
        "hooks directory: .git/hooks\n"
        "  pre-commit     installed\n"
        "  post-commit    installed\n"
        "  pre-push       installed\n"
    )
    return dvc_repo


@pytest.fixture
def pipeline(hooked: Path) -> Path:
    """hooked plus a DVC pipeline stage, reproduced and committed (through the hooks)."""
    write(hooked, "src/train.py", TRAIN)
    sh(*STAGE, cwd=hooked)
    sh("dvc", "repro", "-q", cwd=hooked)
    sh("git", "add", "-A", cwd=hooked)
    assert commit(hooked, message="Add the train stage").returncode == 0
    return hooked


# -- install / uninstall ----------------------------------------------------------------------


def test_install_writes_shims_that_call_this_interpreter(hooked: Path) -> None:
    hooks = hooked / ".git" / "hooks"
    for name in ("pre-commit", "post-commit", "pre-push"):
        text = (hooks / name).read_text()
        assert text.startswith("#!/bin/sh\n") and SHIM_MARK in text
        python = next(line for line in text.splitlines() if line.startswith("python="))
        assert Path(python[len("python=") :]).parent == Path(sys.executable).parent  # the venv
        assert os.access(hooks / name, os.X_OK)
    assert not (hooks / "post-checkout").exists()
    again = lineage(hooked, "hooks", "install", "--hook", "pre-commit").stdout
    assert again == "hooks directory: .git/hooks\n  pre-commit     updated\n"


def test_a_clean_commit_passes_silently(hooked: Path) -> None:
    write(hooked, "src/train.py", "print('training v2')\n")
    sh("git", "add", "src/train.py", cwd=hooked)
    proc = commit(hooked)
    assert (proc.returncode, proc.stderr) == (0, "")


def test_existing_hook_is_kept_run_first_and_restored(dvc_repo: Path) -> None:
    lineage(dvc_repo, "init")
    sh("git", "add", ".lineage", cwd=dvc_repo)
    hooks = dvc_repo / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    mine = '#!/bin/sh\necho "user hook ran: $(basename $0)" >> ../hook.log\n'
    (hooks / "pre-commit").write_text(mine)
    (hooks / "pre-commit").chmod(0o755)
    out = lineage(dvc_repo, "hooks", "install").stdout
    assert "  pre-commit     chained: the existing hook is now pre-commit.pre-lineage\n" in out
    assert (hooks / f"pre-commit{PREVIOUS}").read_text() == mine
    log = dvc_repo.parent / "hook.log"

    assert commit(dvc_repo).returncode == 0
    assert log.read_text() == "user hook ran: pre-commit.pre-lineage\n"
    (dvc_repo / "data" / "raw.csv").write_text("id,value\n9,99\n")
    proc = commit(dvc_repo, "--allow-empty")
    assert proc.returncode == 1 and "DVC-tracked data changed" in proc.stderr  # lineage ran too
    assert log.read_text().count("\n") == 2

    out = lineage(dvc_repo, "hooks", "uninstall").stdout
    assert out == (
        "hooks directory: .git/hooks\n"
        "  pre-commit     restored: put back the hook from pre-commit.pre-lineage\n"
        "  post-commit    removed\n"
        "  pre-push       removed\n"
        "  post-checkout  absent\n"
    )
    assert (hooks / "pre-commit").read_text() == mine
    assert sorted(p.name for p in hooks.iterdir()) == ["pre-commit"]
    proc = commit(dvc_repo, "--allow-empty")
    assert (proc.returncode, proc.stderr) == (0, "")  # lineage no longer checks
    assert log.read_text().count("\n") == 3  # the user's hook still runs


def test_a_failing_existing_hook_still_refuses_the_commit(hooked: Path) -> None:
    hooks = hooked / ".git" / "hooks"
    lineage(hooked, "hooks", "uninstall")
    (hooks / "pre-commit").write_text("#!/bin/sh\necho 'user hook says no' >&2\nexit 7\n")
    (hooks / "pre-commit").chmod(0o755)
    lineage(hooked, "hooks", "install")
    proc = commit(hooked, "--allow-empty")
    assert (proc.returncode, proc.stderr) == (1, "user hook says no\n")


def test_uninstall_leaves_hooks_it_did_not_write(hooked: Path) -> None:
    hooks = hooked / ".git" / "hooks"
    (hooks / "post-commit").write_text("#!/bin/sh\necho mine\n")
    out = lineage(hooked, "hooks", "uninstall", "--hook", "post-commit").stdout
    assert out == "hooks directory: .git/hooks\n  post-commit    skipped: not written by lineage\n"
    assert (hooks / "post-commit").read_text() == "#!/bin/sh\necho mine\n"
    assert SHIM_MARK in (hooks / "pre-commit").read_text()


def test_core_hooks_path_is_respected_when_private(hooked: Path, tmp_path: Path) -> None:
    lineage(hooked, "hooks", "uninstall")
    private = tmp_path / "my-hooks"
    sh("git", "config", "core.hooksPath", str(private), cwd=hooked)
    out = lineage(hooked, "hooks", "install", "--hook", "pre-commit").stdout
    assert out.startswith(f"hooks directory: {private} (core.hooksPath = {private})\n")
    assert SHIM_MARK in (private / "pre-commit").read_text()
    (hooked / "data" / "raw.csv").write_text("id,value\n9,99\n")
    assert commit(hooked, "--allow-empty").returncode == 1


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (".githooks", "core.hooksPath is .githooks, a directory tracked in this repository"),
        ("/dev/null", "core.hooksPath is /dev/null, which switches every Git hook off"),
    ],
)
def test_core_hooks_path_is_refused_when_shared_or_off(
    git_repo: Path, setting: str, message: str
) -> None:
    write(git_repo, ".githooks/pre-commit", "#!/bin/sh\n")
    sh("git", "add", ".githooks", cwd=git_repo)
    sh("git", "config", "core.hooksPath", setting, cwd=git_repo)
    proc = lineage(git_repo, "hooks", "install", check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"lineage: error: {message}")
    assert (git_repo / ".githooks" / "pre-commit").read_text() == "#!/bin/sh\n"


def test_hooks_do_nothing_where_lineage_is_not_set_up(dvc_repo: Path) -> None:
    out = lineage(dvc_repo, "hooks", "install").stdout
    assert out.endswith(
        "note: lineage is not set up here yet: the hooks do nothing until `lineage init`\n"
    )
    (dvc_repo / "data" / "raw.csv").write_text("id,value\n9,99\n")
    (dvc_repo / "big.bin").write_bytes(b"\0" * (11 << 20))
    sh("git", "add", "big.bin", cwd=dvc_repo)
    proc = commit(dvc_repo)
    assert (proc.returncode, proc.stderr) == (0, "")


def test_a_vanished_interpreter_warns_and_never_blocks(hooked: Path, tmp_path: Path) -> None:
    from lineage.adapters.git import discover

    install(discover(hooked), ["pre-commit"], python=str(tmp_path / "gone" / "python"))
    (hooked / "data" / "raw.csv").write_text("id,value\n9,99\n")  # would be refused
    env = {**os.environ, "PATH": "/usr/bin:/bin"}  # no `lineage` on PATH either
    proc = sh("git", "commit", "-q", "--allow-empty", "-m", "x", cwd=hooked, env=env, check=False)
    assert proc.returncode == 0
    assert proc.stderr == (
        f"lineage: warning: {tmp_path}/gone/python is gone and lineage is not on PATH; the "
        "pre-commit hook did nothing (reinstall lineage, or run `lineage hooks uninstall`)\n"
    )


@pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="needs a system python3")
def test_an_interpreter_without_lineage_warns_and_never_blocks(hooked: Path) -> None:
    from lineage.adapters.git import discover

    install(discover(hooked), ["pre-commit"], python="/usr/bin/python3")
    (hooked / "data" / "raw.csv").write_text("id,value\n9,99\n")
    proc = commit(hooked, "--allow-empty")
    assert proc.returncode == 0
    assert proc.stderr == (
        "lineage: warning: lineage is no longer installed in /usr/bin/python3; the pre-commit "
        "hook did nothing (reinstall lineage, or run `lineage hooks uninstall`)\n"
    )


def test_hook_impl_is_hidden_from_help(hooked: Path) -> None:
    assert "hook-impl" not in lineage(hooked, "--help").stdout
    assert "install" in lineage(hooked, "hooks", "--help").stdout


# -- pre-commit: DVC data and its pointers ----------------------------------------------------


def test_changed_data_with_an_unchanged_pointer_is_refused(hooked: Path) -> None:
    (hooked / "data" / "raw.csv").write_text("id,value\n1,10\n2,21\n")
    write(hooked, "src/train.py", "print('v2')\n")
    sh("git", "add", "src/train.py", cwd=hooked)
    before = head(hooked)
    proc = commit(hooked)
    actual, _ = dvc_hash.StatCache(hooked / ".git" / "lineage" / "statcache.sqlite").file_md5(
        hooked, "data/raw.csv"
    )
    pointer = dvc.read_dvc_file(hooked, "data/raw.csv.dvc")[0].md5
    assert proc.returncode == 1
    assert proc.stderr == (
        "lineage: DVC-tracked data changed, but the commit keeps its old pointer:\n"
        f"  data/raw.csv  workspace {actual[:10]}, staged data/raw.csv.dvc says {pointer[:10]}\n"
        "run `dvc add data/raw.csv` and `git add data/raw.csv.dvc` (or `dvc checkout "
        f"data/raw.csv` to undo the change), {NO_VERIFY}\n"
    )
    assert head(hooked) == before
    assert commit(hooked, "--no-verify").returncode == 0  # as git users expect
    assert head(hooked) != before


def test_an_updated_pointer_must_be_staged(hooked: Path) -> None:
    (hooked / "data" / "raw.csv").write_text("id,value\n1,10\n2,21\n")
    sh("dvc", "add", "-q", "data/raw.csv", cwd=hooked)
    proc = commit(hooked, "--allow-empty")
    assert proc.returncode == 1
    assert proc.stderr.endswith(f"run `git add data/raw.csv.dvc`, {NO_VERIFY}\n")
    assert "DVC pointers were updated but the updates are not staged:" in proc.stderr
    sh("git", "add", "data/raw.csv.dvc", cwd=hooked)
    proc = commit(hooked)
    assert (proc.returncode, proc.stderr) == (0, "")


def test_tracked_directory_change_is_refused_and_its_hash_is_dvcs(hooked: Path) -> None:
    for i in range(5):
        write(hooked, f"images/{i}.txt", f"image {i}\n")
    sh("dvc", "add", "-q", "images", cwd=hooked)
    sh("git", "add", "-A", cwd=hooked)
    assert commit(hooked).returncode == 0
    write(hooked, "images/3.txt", "edited\n")
    write(hooked, "images/sub/new.txt", "new\n")
    proc = commit(hooked, "--allow-empty")
    assert proc.returncode == 1
    line = next(x for x in proc.stderr.splitlines() if x.startswith("  images  workspace "))
    seen = line.split()[2].rstrip(",")
    sh("dvc", "add", "-q", "images", cwd=hooked)
    dvcs = dvc.read_dvc_file(hooked, "images.dvc")[0].md5
    assert dvcs.endswith(".dir") and dvcs.startswith(seen)  # the hash DVC computes
    sh("git", "add", "images.dvc", cwd=hooked)
    assert commit(hooked).returncode == 0


def test_changed_pipeline_output_needs_dvc_commit(pipeline: Path) -> None:
    (pipeline / "model.txt").write_text("tampered\n")
    proc = commit(pipeline, "--allow-empty")
    assert proc.returncode == 1
    assert proc.stderr.startswith(
        "lineage: DVC pipeline outputs changed, but the commit keeps their old dvc.lock "
        "entries:\n  model.txt  workspace "
    )
    assert proc.stderr.endswith(
        "run `dvc commit -f train` (or `dvc repro train`) and `git add dvc.lock` (or `dvc "
        f"checkout model.txt` to undo the change), {NO_VERIFY}\n"
    )
    sh("dvc", "commit", "-q", "-f", "train", cwd=pipeline)
    sh("git", "add", "dvc.lock", cwd=pipeline)
    assert commit(pipeline).returncode == 0


def test_missing_data_is_not_refused(hooked: Path) -> None:
    (hooked / "data" / "raw.csv").unlink()  # e.g. a clone that has not run `dvc pull`
    assert commit(hooked, "--allow-empty").returncode == 0


# -- pre-commit: large files ------------------------------------------------------------------


def test_a_large_staged_file_is_refused_and_the_limit_is_configurable(hooked: Path) -> None:
    (hooked / "weights.bin").write_bytes(b"\1" * ((10 << 20) + 1))
    (hooked / "small.txt").write_text("fine\n")
    sh("git", "add", "weights.bin", "small.txt", cwd=hooked)
    proc = commit(hooked)
    assert proc.returncode == 1
    assert proc.stderr == (
        "lineage: staged files larger than 10 MB would go into Git instead of DVC:\n"
        "  weights.bin  (10.0 MB)\n"
        "run `git rm --cached weights.bin` and `dvc add weights.bin`, then stage the .dvc "
        "file(s); or raise [hooks] max_file_mb in .lineage/config.toml; or commit with "
        "--no-verify\n"
    )
    cfg = hooked / ".lineage" / "config.toml"
    cfg.write_text(cfg.read_text().replace("# max_file_mb = 10", "max_file_mb = 20"))
    assert config.load(hooked).max_file_mb == 20
    proc = commit(hooked)
    assert (proc.returncode, proc.stderr) == (0, "")


def test_the_limit_applies_to_the_staged_content(hooked: Path) -> None:
    cfg = hooked / ".lineage" / "config.toml"
    cfg.write_text(cfg.read_text().replace("# max_file_mb = 10", "max_file_mb = 0.001"))
    (hooked / "notes.txt").write_text("x" * 2000)
    sh("git", "add", "notes.txt", cwd=hooked)
    (hooked / "notes.txt").write_text("short\n")  # the workspace is small; the index is not
    proc = commit(hooked)
    assert proc.returncode == 1 and "  notes.txt  (0.0 MB)" in proc.stderr


# -- pre-commit: stale dvc.lock ---------------------------------------------------------------


def test_a_changed_stage_with_an_unchanged_lock_is_refused(pipeline: Path) -> None:
    yaml_path = pipeline / "dvc.yaml"
    yaml_path.write_text(
        yaml_path.read_text().replace("python src/train.py", "python -O src/train.py")
    )
    sh("git", "add", "dvc.yaml", cwd=pipeline)
    proc = commit(pipeline)
    assert proc.returncode == 1
    assert proc.stderr == (
        "lineage: dvc.yaml changes these stages, but their dvc.lock entries are staged "
        "unchanged (stale lock):\n"
        "  train  (dvc.lock)\n"
        "run `dvc repro train` (or `dvc commit -f train` if the outputs are already up to "
        f"date) and `git add dvc.lock`, {NO_VERIFY}\n"
    )
    sh("dvc", "repro", "-q", cwd=pipeline)
    sh("git", "add", "-A", cwd=pipeline)
    proc = commit(pipeline)
    assert (proc.returncode, proc.stderr) == (0, "")


def test_a_description_change_does_not_stale_the_lock(pipeline: Path) -> None:
    yaml_path = pipeline / "dvc.yaml"
    yaml_path.write_text(yaml_path.read_text().replace("  train:\n", "  train:\n    desc: fit\n"))
    sh("git", "add", "dvc.yaml", cwd=pipeline)
    assert commit(pipeline).returncode == 0


# -- pre-commit: cost ---------------------------------------------------------------------


def test_pre_commit_hook_imports_nothing_heavy_once_warm(pipeline: Path) -> None:
    # Data written within the last 2 s is never remembered (racy): age it, as time would.
    for name in ("data/raw.csv", "model.txt", "metrics.json"):
        os.utime(pipeline / name, (1_700_000_000, 1_700_000_000))
    code = (
        "import sys\nfrom lineage.hooks.dispatch import main\nrc = main(['pre-commit'])\n"
        "heavy = ('mlflow', 'dvc', 'networkx', 'tqdm', 'click', 'pygit2', 'yaml', 'wandb',\n"
        "         'lineage.records')\n"
        "print(rc, sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in heavy))\n"
    )
    run = [sys.executable, "-c", code]
    cold = subprocess.run(run, cwd=pipeline, capture_output=True, text=True, check=True)
    assert cold.stdout.startswith("0 ")  # the full checks, which remember what they hashed
    warm = subprocess.run(run, cwd=pipeline, capture_output=True, text=True, check=True)
    assert warm.stdout == "0 []\n"


def test_post_commit_hook_never_imports_mlflow_dvc_or_networkx(hooked: Path) -> None:
    lineage(hooked, "run", "--", "true")  # a record, so the hook opens the index
    code = (
        "import sys\nfrom lineage.hooks.dispatch import main\nrc = main(['post-commit'])\n"
        "heavy = ('mlflow', 'dvc', 'networkx', 'tqdm', 'wandb')\n"
        "print(rc, sorted(m for m in sys.modules if m.split('.')[0] in heavy), "
        "'lineage.index' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=hooked, capture_output=True, text=True)
    assert proc.stdout == "0 [] True\n", proc.stderr


def test_quick_path_constants_match_the_full_path() -> None:
    assert quick.RACY_NS == dvc_hash.RACY_NS
    assert quick.DEFAULT_MAX_FILE_MB == config.DEFAULT_MAX_FILE_MB


# -- post-commit: attaching dirty-tree runs ---------------------------------------------------


def test_a_dirty_tree_run_is_attached_to_the_commit_holding_its_code(pipeline: Path) -> None:
    # The edit adds an output too, so DVC also writes `/extra.txt` into .gitignore.
    write(pipeline, "src/train.py", TRAIN.replace("SCALE = 1", "SCALE = 2") + EXTRA)
    stages = pipeline / "dvc.yaml"  # edited by hand: `dvc stage add` would touch .gitignore now
    stages.write_text(stages.read_text().replace("- model.txt\n", "- model.txt\n    - extra.txt\n"))
    lineage(pipeline, "run", "--", "dvc", "repro", "-q")
    run = lineage_json(pipeline, "log")[0]
    assert run["dirty"] and run["snapshot"]
    sh("git", "add", "-A", cwd=pipeline)
    proc = commit(pipeline, message="Scale by 2")
    sha = head(pipeline)
    assert proc.returncode == 0
    assert proc.stderr == (
        f"lineage: run {run['run'][:12]} (made on a dirty tree, snapshot "
        f"{run['snapshot'][:10]}) now has its code in commit {sha[:10]}\n"
    )
    shown = lineage_json(pipeline, "show", run["run"])
    code = {(n["rel"], n["id"]) for n in shown["neighbours"] if n["kind"] == "commit"}
    assert code == {("code", run["snapshot"]), ("code", sha)}
    commit_view = lineage_json(pipeline, "show", sha)
    assert run["run"] in {n["id"] for n in commit_view["neighbours"]}
    attachment = _attachments(pipeline)
    assert attachment == [
        {
            "commit": sha,
            "evidence": "observed",
            "kind": "attachment",
            "run": run["run"],
            "schema": 1,
            "set_aside": [".gitignore", "dvc.lock", "metrics.json"],
            "snapshot": run["snapshot"],
        }
    ]
    assert commit(pipeline, "--amend", "--no-edit").returncode == 0  # new sha, same parent
    assert len(_attachments(pipeline)) == 2


EXTRA = 'open("extra.txt", "w").write("extra\\n")\n'


def test_a_commit_with_a_different_edit_attaches_nothing(pipeline: Path) -> None:
    write(pipeline, "src/train.py", TRAIN.replace("SCALE = 1", "SCALE = 2"))
    lineage(pipeline, "run", "--", "dvc", "repro", "-q")
    run = lineage_json(pipeline, "log")[0]
    write(pipeline, "src/train.py", TRAIN.replace("SCALE = 1", "SCALE = 3"))  # not what ran
    sh("git", "add", "-A", cwd=pipeline)
    proc = commit(pipeline)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert _attachments(pipeline) == []
    shown = lineage_json(pipeline, "show", run["run"])
    assert {n["id"] for n in shown["neighbours"] if n["rel"] == "code"} == {run["snapshot"]}


def test_a_run_is_attached_when_only_tool_stores_differ_from_its_snapshot(
    hooked: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI")  # MLflow's default: ./mlflow.db, in the repo
    write(hooked, ".gitignore", "# nothing of MLflow's ignored\n")
    write(hooked, "src/train.py", MLFLOW_TRAIN)
    sh("git", "add", "-A", cwd=hooked)
    assert commit(hooked, message="Train with MLflow").returncode == 0
    write(hooked, "src/train.py", MLFLOW_TRAIN.replace("depth / 10", "depth / 100"))
    lineage(hooked, "run", "--", "python", "src/train.py", "5")
    run = lineage_json(hooked, "log")[0]
    assert run["dirty"] and run["snapshot"]
    # The user commits everything, MLflow's store included, and lets lineage gitignore the rest.
    sh("git", "add", "-A", cwd=hooked)
    lineage(hooked, "init", "--gitignore")
    sh("git", "add", ".gitignore", cwd=hooked)

    proc = commit(hooked, message="Scale by 100")

    sha = head(hooked)
    assert (proc.returncode, proc.stderr) == (
        0,
        f"lineage: run {run['run'][:12]} (made on a dirty tree, snapshot "
        f"{run['snapshot'][:10]}) now has its code in commit {sha[:10]}\n",
    )
    [attachment] = _attachments(hooked)
    assert attachment["set_aside"] == [".gitignore", "mlflow.db"]
    assert sh("git", "show", f"{sha}:.gitignore", cwd=hooked).stdout == (
        "# nothing of MLflow's ignored\nmlflow.db\nmlruns/\nmlartifacts/\n**/wandb/run-*/\n"
        "**/wandb/offline-run-*/\n**/wandb/sweep-*/\n**/wandb/latest-run\n**/wandb/debug*.log\n"
    )


def _attachments(repo: Path) -> list[dict[str, object]]:
    tree = sh("git", "ls-tree", "-r", "--name-only", "refs/lineage/records", cwd=repo).stdout
    found = []
    for name in tree.split():
        doc = json.loads(sh("git", "show", f"refs/lineage/records:{name}", cwd=repo).stdout)
        if doc["kind"] == "attachment":
            doc.pop("created")
            found.append(doc)
    return found


# -- pre-push and post-checkout ---------------------------------------------------------------


@pytest.fixture
def remote(hooked: Path, tmp_path: Path) -> Path:
    bare = tmp_path / "origin.git"
    sh("git", "init", "-q", "--bare", bare, cwd=tmp_path)
    sh("git", "remote", "add", "origin", bare, cwd=hooked)
    return bare


def test_pre_push_passes_without_records_and_keeps_a_users_hook(hooked: Path, remote: Path) -> None:
    hooks = hooked / ".git" / "hooks"
    lineage(hooked, "hooks", "uninstall", "--hook", "pre-push")
    (hooks / "pre-push").write_text('#!/bin/sh\necho "$1 $2" > ../push.log\ncat >> ../push.log\n')
    (hooks / "pre-push").chmod(0o755)
    lineage(hooked, "hooks", "install", "--hook", "pre-push")
    proc = sh("git", "push", "-q", "origin", "main", cwd=hooked, check=False)
    assert proc.returncode == 0, proc.stderr
    sha = head(hooked)
    assert (hooked.parent / "push.log").read_text() == (
        f"origin {remote}\nrefs/heads/main {sha} refs/heads/main {'0' * 40}\n"
    )
    assert sh("git", "rev-parse", "main", cwd=remote).stdout.strip() == sha


def test_pre_push_refuses_data_missing_from_the_dvc_remote(hooked: Path, remote: Path) -> None:
    lineage(hooked, "run", "--", "true")  # records data/raw.csv as an input
    proc = sh("git", "push", "-q", "origin", "main", cwd=hooked, check=False)
    assert proc.returncode == 1
    assert "lineage: refusing to push: runs on these commits used 1 data object(s)" in proc.stderr
    assert "  data/raw.csv " in proc.stderr
    assert sh("git", "ls-remote", remote, cwd=hooked).stdout == ""
    assert sh("git", "push", "-q", "--no-verify", "origin", "main", cwd=hooked).returncode == 0
    sh("dvc", "push", "-q", cwd=hooked)
    write(hooked, "src/train.py", "print('v3')\n")
    sh("git", "commit", "-qam", "v3", cwd=hooked)
    proc = sh("git", "push", "-q", "origin", "main", cwd=hooked, check=False)
    assert proc.returncode == 0, proc.stderr
    refs = sh("git", "ls-remote", remote, cwd=hooked).stdout
    assert "refs/lineage/records" in refs  # the records went along with the branch


def test_post_checkout_warms_the_index(hooked: Path) -> None:
    lineage(hooked, "hooks", "install", "--hook", "post-checkout")
    index = hooked / ".git" / "lineage" / "index.sqlite"
    index.unlink(missing_ok=True)
    sh("git", "checkout", "-q", "-b", "feature", cwd=hooked)
    assert index.exists()
    index.unlink()
    sh("git", "checkout", "-q", "main", "--", "README.md", cwd=hooked)  # a file checkout
    assert not index.exists()


def test_push_lines_are_parsed_as_git_writes_them() -> None:
    text = f"refs/heads/main {'a' * 40} refs/heads/main {'0' * 40}\n\n"
    assert parse_push_lines(text) == [("refs/heads/main", "a" * 40, "refs/heads/main", "0" * 40)]


# -- the pre-commit framework -----------------------------------------------------------------


def test_manifest_is_valid_for_pre_commit() -> None:
    proc = sh("pre-commit", "validate-manifest", ROOT / ".pre-commit-hooks.yaml", cwd=ROOT)
    assert proc.returncode == 0


@pytest.fixture
def hook_repo(tmp_path: Path) -> Path:
    """A git repository holding lineage's .pre-commit-hooks.yaml, committed (try-repo clones)."""
    repo = tmp_path / "lineage-hooks"
    repo.mkdir()
    sh("git", "init", "-q", cwd=repo)
    shutil.copy(ROOT / ".pre-commit-hooks.yaml", repo)
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-q", "-m", "hooks", cwd=repo)
    return repo


def test_pre_commit_try_repo_runs_the_checks(dvc_repo: Path, hook_repo: Path) -> None:
    lineage(dvc_repo, "init")
    sh("git", "add", ".lineage", cwd=dvc_repo)
    try_repo = ("pre-commit", "try-repo", hook_repo, "lineage-check")
    ok = sh(*try_repo, cwd=dvc_repo, check=False)
    assert ok.returncode == 0, ok.stdout
    assert "lineage (DVC pointers, large files, stale dvc.lock)" in ok.stdout
    (dvc_repo / "data" / "raw.csv").write_text("id,value\n9,99\n")
    refused = sh(*try_repo, cwd=dvc_repo, check=False)
    assert refused.returncode == 1
    assert "DVC-tracked data changed, but the commit keeps its old pointer" in refused.stdout
    assert "run `dvc add data/raw.csv`" in refused.stdout


def test_pre_commit_framework_post_commit_stage(dvc_repo: Path, hook_repo: Path) -> None:
    lineage(dvc_repo, "init")
    proc = sh(
        "pre-commit", "try-repo", hook_repo, "lineage-post-commit", "--hook-stage",
        "post-commit", cwd=dvc_repo, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout
