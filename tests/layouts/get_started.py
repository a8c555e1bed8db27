"""iterative/example-get-started's layout in miniature, with synthetic data: stages prepare ->
featurize (a ``foreach`` over the two splits) -> train -> evaluate; ``params.yaml`` with a
section per stage and a second params file (``evaluate.yaml``); metrics in JSON (``cache:
false``), YAML and TOML (the ``foreach`` stage's, templated); a ``plots:`` file.

``write(root)`` writes the files only. ``build(base)`` also makes them a project: git, DVC
(``data/data.tsv`` added, a local remote), ``lineage init``, one commit; nothing run yet. Each
stage is a few lines of Python (the standard library and PyYAML) and deterministic. With
``MODEL=name`` train registers the model under that name from an MLflow run that logs no params
or metrics; ``STAMP_MODEL=1`` makes train write a fresh id into ``model.pkl`` (as
``mlflow.autolog()`` stamps ``_mlflow_run_id`` on the estimator, so no two runs' model.pkl are the
same bytes); ``EVAL_NOISE=x`` adds ``x`` to ``avg_prec``; ``PLOT_LAST_BIT=1`` moves the first
precision in the plots file by its last bit (as a RandomForest with ``n_jobs=2`` does);
``EVAL_BROKEN=1`` writes ``eval/summary.yaml`` as YAML no parser reads.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import sh
from tests.scenarios import hermetic_env

PARAMS = """\
prepare:
  split: 0.25
  seed: 20170428
featurize:
  max_features: 100
  ngrams: 2
train:
  seed: 20170428
  n_est: 50
  min_split: 0.01
"""

EVALUATE_PARAMS = """\
threshold: 0.5
"""

PIPELINE = """\
stages:
  prepare:
    cmd: python src/prepare.py data/data.tsv
    deps:
      - src/prepare.py
      - data/data.tsv
    params:
      - prepare.seed
      - prepare.split
    outs:
      - data/prepared
  featurize:
    foreach: [train, test]
    do:
      cmd: python src/featurize.py ${item}
      deps:
        - src/featurize.py
        - data/prepared
      params:
        - featurize
      outs:
        - data/features/${item}.tsv
      metrics:
        - data/features/${item}-stats.toml:
            cache: false
  train:
    cmd: python src/train.py
    deps:
      - src/train.py
      - data/features/train.tsv
    params:
      - train.seed
      - train.n_est
      - train.min_split
    outs:
      - model.pkl
  evaluate:
    cmd: python src/evaluate.py
    deps:
      - src/evaluate.py
      - model.pkl
      - data/features/test.tsv
    params:
      - evaluate.yaml:
          - threshold
    metrics:
      - eval/metrics.json:
          cache: false
      - eval/summary.yaml:
          cache: false
    plots:
      - eval/plots/prc.json:
          cache: false
          x: recall
          y: precision
"""

PREPARE = """\
import pathlib, random, sys, yaml
params = yaml.safe_load(open("params.yaml"))["prepare"]
rows = pathlib.Path(sys.argv[1]).read_text().splitlines()
random.Random(params["seed"]).shuffle(rows)
n = int(len(rows) * params["split"])
out = pathlib.Path("data/prepared")
out.mkdir(parents=True, exist_ok=True)
(out / "test.tsv").write_text("\\n".join(rows[:n]) + "\\n")
(out / "train.tsv").write_text("\\n".join(rows[n:]) + "\\n")
"""

FEATURIZE = """\
import pathlib, sys, yaml
split = sys.argv[1]
params = yaml.safe_load(open("params.yaml"))["featurize"]
text = pathlib.Path(f"data/prepared/{split}.tsv").read_text()
rows = [r.split("\\t") for r in text.splitlines()]
width = params["max_features"]
features = [(label, len(words) % width * params["ngrams"]) for _, label, words in rows]
out = pathlib.Path("data/features")
out.mkdir(parents=True, exist_ok=True)
(out / f"{split}.tsv").write_text("".join(f"{label}\\t{f}\\n" for label, f in features))
mean = sum(f for _, f in features) / len(features)
stats = f"rows = {len(features)}\\n\\n[feature]\\nmean = {mean!r}\\n"
(out / f"{split}-stats.toml").write_text(stats)
"""

TRAIN = """\
import json, os, pathlib, uuid, yaml
params = yaml.safe_load(open("params.yaml"))["train"]
rows = [r.split("\\t") for r in pathlib.Path("data/features/train.tsv").read_text().splitlines()]
weight = sum(int(f) for _, f in rows) / len(rows) / params["n_est"] + params["min_split"]
model = {"weight": weight, "seed": params["seed"]}
if os.environ.get("STAMP_MODEL"):
    model["_mlflow_run_id"] = uuid.uuid4().hex
pathlib.Path("model.pkl").write_text(json.dumps(model))
if os.environ.get("MODEL"):  # register the model from an MLflow run that logs nothing else
    import mlflow
    mlflow.set_experiment("get-started")
    with mlflow.start_run() as run:
        client = mlflow.MlflowClient()
        if not client.search_registered_models(f"name = '{os.environ['MODEL']}'"):
            client.create_registered_model(os.environ["MODEL"])
        source = f"runs:/{run.info.run_id}/model"
        client.create_model_version(os.environ["MODEL"], source, run_id=run.info.run_id)
"""

EVALUATE = """\
import json, math, os, pathlib, yaml
threshold = yaml.safe_load(open("evaluate.yaml"))["threshold"]
weight = json.loads(pathlib.Path("model.pkl").read_text())["weight"]
rows = [r.split("\\t") for r in pathlib.Path("data/features/test.tsv").read_text().splitlines()]
scored = [(label == "1", int(f) * weight % 1) for label, f in rows]
hits = [truth for truth, score in scored if score >= threshold]
precision = sum(hits) / len(hits) if hits else 0.0
recall = sum(hits) / max(1, sum(truth for truth, _ in scored))
avg_prec = precision * recall + float(os.environ.get("EVAL_NOISE", "0"))
pathlib.Path("eval/plots").mkdir(parents=True, exist_ok=True)
pathlib.Path("eval/metrics.json").write_text(json.dumps({
    "avg_prec": avg_prec,
    "roc_auc": 1 - abs(threshold - weight % 1),
    "counts": {"rows": len(rows), "hits": len(hits)},
    "labels": ["0", "1"],
}))
summary = "precision: [unclosed\\n" if os.environ.get("EVAL_BROKEN") else (
    f"precision: {precision!r}\\nrecall: {recall!r}\\nloss: 1e-3\\n"
)
pathlib.Path("eval/summary.yaml").write_text(summary)
plotted = math.nextafter(precision, 2.0) if os.environ.get("PLOT_LAST_BIT") else precision
pathlib.Path("eval/plots/prc.json").write_text(json.dumps(
    {"prc": [{"precision": plotted, "recall": recall}, {"precision": 1.0, "recall": 0.0}]}
))
"""


def data(rows: int = 24) -> str:
    """Synthetic documents: id, label, text."""
    return "".join(f"{i}\t{i % 3 == 0:d}\t{'word ' * (i % 7 + 1)}doc {i}\n" for i in range(rows))


def write(root: Path) -> None:
    """The project's files, under ``root`` (which may not exist yet)."""
    files = {
        "params.yaml": PARAMS,
        "evaluate.yaml": EVALUATE_PARAMS,
        "dvc.yaml": PIPELINE,
        "src/prepare.py": PREPARE,
        "src/featurize.py": FEATURIZE,
        "src/train.py": TRAIN,
        "src/evaluate.py": EVALUATE,
        "data/data.tsv": data(),
        ".gitignore": "mlflow.db\nmlruns/\nmlartifacts/\n",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@dataclass(frozen=True)
class Project:
    repo: Path
    env: dict[str, str]  # what every command on it needs (HOME, MLflow store, PATH)

    def sh(self, *args: str, check: bool = True, **extra: str) -> subprocess.CompletedProcess[str]:
        return sh(*args, cwd=self.repo, env={**self.env, **extra}, check=check)

    def lineage(
        self, *args: str, check: bool = True, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        return self.sh("lineage", *args, check=check, **extra)

    def json(self, *args: str, check: bool = True, **extra: str) -> Any:
        return json.loads(self.lineage(*args, "--json", check=check, **extra).stdout)

    def newest_run(self) -> str:
        return str(self.json("log", "-n", "1")[0]["run"])

    def record(self, run: str) -> dict[str, Any]:
        """The run's record, as `lineage show --json` prints it."""
        return dict(self.json("show", run)["record"])

    def commit(self, message: str) -> None:
        self.sh("git", "add", "-A")
        self.sh("git", "commit", "-q", "-m", message)


def build(base: Path) -> Project:
    """The layout as a committed git + DVC project under ``base``, with `lineage init`."""
    project = Project(base / "repo", hermetic_env(base))
    write(project.repo)
    (base / "dvc-remote").mkdir()
    project.sh("git", "init", "-q")
    project.sh("dvc", "init", "-q")
    project.sh("dvc", "remote", "add", "-d", "storage", str(base / "dvc-remote"))
    project.sh("dvc", "add", "-q", "data/data.tsv")
    project.lineage("init")
    project.commit("The get-started pipeline")
    return project
