"""`lineage graph`: the drawing of a fixed small graph, compared as strings, and the command
on a real trained project (tests/scenarios.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import networkx as nx
import pytest

from lineage import render
from lineage.adapters import graphviz
from lineage.graph import (
    BOTH,
    CommitNode,
    DataNode,
    GraphEdge,
    ModelNode,
    RunNode,
    Subgraph,
    moment_bound,
)
from tests.helpers import lineage
from tests.scenarios import Trained
from tests.test_cli import HEAVY

BASE = "c0ffee" + "0" * 34
SNAP = "5a" + "1" * 38
RAW = "d" * 32
RUN = "a1" * 16
RERUN = "b2" * 16
PKL_A, PKL_B = "e" * 32, "f" * 32
SMALL = Subgraph(
    roots=(f"run:{RUN}",),
    direction=BOTH,
    nodes=(
        CommitNode(SNAP, snapshot=True, changed=("params.yaml",)),
        CommitNode(BASE, subject='Use "better" <features> & #2'),
        DataNode(RAW, paths=("data/raw.csv",), size=248901),
        DataNode(PKL_A, paths=("models/model.pkl",), size=1830021),
        DataNode(PKL_B, paths=("models/model.pkl",), size=999),
        RunNode(
            RUN,
            name="dapper-owl",
            status="FINISHED",
            metric=("auc", 0.830781),
            reproductions=("differs",),
        ),
        RunNode(RERUN, name="rerun-of-owl", status="FINISHED", metric=("auc", 0.8)),
        ModelNode("churn", 2, aliases=("champion",)),
    ),
    edges=(
        GraphEdge(f"commit:{SNAP}", "code", f"run:{RUN}", observed=True),
        GraphEdge(f"commit:{BASE}", "snapshot", f"commit:{SNAP}", observed=True),
        GraphEdge(f"data:{RAW}", "input", f"run:{RUN}", observed=False, paths=("data/raw.csv",)),
        GraphEdge(f"run:{RUN}", "output", f"data:{PKL_A}", True, ("models/model.pkl",)),
        GraphEdge(f"run:{RUN}", "produced", "model:churn/2", observed=True),
        GraphEdge(f"run:{RUN}", "reproduced", f"run:{RERUN}", observed=True, verdict="differs"),
        GraphEdge(f"run:{RERUN}", "output", f"data:{PKL_B}", True, ("models/model.pkl",)),
    ),
)

DOT = """\
digraph lineage {
  graph [rankdir=LR, newrank=true, nodesep=0.25, ranksep=0.55, fontname="Helvetica", fontsize=10, bgcolor="white"];
  node [fontname="Helvetica", fontsize=10, penwidth=1.2, margin="0.14,0.06"];
  edge [color="#78909c", arrowsize=0.7, fontname="Helvetica", fontsize=9];
  "commit:5a11111111111111111111111111111111111111" [label=<<b>5a11111111 snapshot</b><br/><font point-size="9" color="#37474f">changed: params.yaml</font>>, shape=box, style="filled,dashed", fillcolor="#fff8e1", color="#ff8f00"];
  "commit:c0ffee0000000000000000000000000000000000" [label=<<b>c0ffee0000</b><br/><font point-size="9" color="#37474f">Use &quot;better&quot; &lt;features&gt; &amp; #2</font>>, shape=box, style="filled", fillcolor="#eceff1", color="#455a64"];
  "data:dddddddddddddddddddddddddddddddd" [label=<<b>data/raw.csv</b><br/><font point-size="9" color="#37474f">dddddddddd · 248.9 kB</font>>, shape=cylinder, style="filled", fillcolor="#e0f2f1", color="#00796b"];
  "run:a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1" [label=<<b>dapper-owl</b><br/><font point-size="9" color="#37474f">a1a1a1a1a1a1 · auc=0.8308</font><br/><font point-size="9" color="#e65100">≠ differs</font>>, shape=box, style="rounded,filled", fillcolor="#e3f2fd", color="#1565c0", penwidth=2.5];
  "run:b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2" [label=<<b>rerun-of-owl</b><br/><font point-size="9" color="#37474f">b2b2b2b2b2b2 · auc=0.8</font>>, shape=box, style="rounded,filled", fillcolor="#e3f2fd", color="#1565c0"];
  "model:churn/2" [label=<<b>churn v2</b><br/><font point-size="9" color="#37474f">@champion</font>>, shape=box3d, style="filled", fillcolor="#fce4ec", color="#ad1457"];
  subgraph cluster_data_0 {
    label="models/model.pkl"; labeljust=l; style="rounded,dashed"; color="#00796b"; fontcolor="#00796b";
    "data:eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee" [label=<<b>eeeeeeeeee</b><br/><font point-size="9" color="#37474f">1.8 MB</font>>, shape=cylinder, style="filled", fillcolor="#e0f2f1", color="#00796b"];
    "data:ffffffffffffffffffffffffffffffff" [label=<<b>ffffffffff</b><br/><font point-size="9" color="#37474f">999 B</font>>, shape=cylinder, style="filled", fillcolor="#e0f2f1", color="#00796b"];
  }
  "commit:5a11111111111111111111111111111111111111" -> "run:a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";
  "commit:c0ffee0000000000000000000000000000000000" -> "commit:5a11111111111111111111111111111111111111";
  "data:dddddddddddddddddddddddddddddddd" -> "run:a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1" [style=dashed];
  "run:a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1" -> "data:eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";
  "run:a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1" -> "model:churn/2";
  "run:a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1" -> "run:b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2" [color="#e65100", fontcolor="#e65100", label="≠ differs", penwidth=1.6];
  "run:b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2" -> "data:ffffffffffffffffffffffffffffffff";
}
"""  # noqa: E501

MERMAID = """\
flowchart LR
  n0["5a11111111 snapshot<br/>changed: params.yaml"]
  n1["c0ffee0000<br/>Use #quot;better#quot; #lt;features#gt; #38; #35;2"]
  n2[("data/raw.csv<br/>dddddddddd · 248.9 kB")]
  n3[("models/model.pkl<br/>eeeeeeeeee · 1.8 MB")]
  n4[("models/model.pkl<br/>ffffffffff · 999 B")]
  n5("dapper-owl<br/>a1a1a1a1a1a1 · auc=0.8308<br/>≠ differs")
  n6("rerun-of-owl<br/>b2b2b2b2b2b2 · auc=0.8")
  n7{{"churn v2<br/>@champion"}}
  n0 --> n5
  n1 --> n0
  n2 -.-> n5
  n5 --> n3
  n5 --> n7
  n5 -->|"≠ differs"| n6
  n6 --> n4
  classDef commit fill:#eceff1,stroke:#455a64
  classDef snapshot fill:#fff8e1,stroke:#ff8f00,stroke-dasharray:4 3
  classDef data fill:#e0f2f1,stroke:#00796b
  classDef run fill:#e3f2fd,stroke:#1565c0
  classDef model fill:#fce4ec,stroke:#ad1457
  class n1 commit
  class n0 snapshot
  class n2,n3,n4 data
  class n5,n6 run
  class n7 model
  style n5 stroke-width:3px
"""

TEXT = """\
run dapper-owl  a1a1a1a1a1a1 · auc=0.8308  ≠ differs
├── made from
│   ├── commit 5a11111111 snapshot  changed: params.yaml
│   │   └── commit c0ffee0000  Use "better" <features> & #2
│   └── data data/raw.csv  dddddddddd · 248.9 kB  (inferred)
└── used to make
    ├── data models/model.pkl  eeeeeeeeee · 1.8 MB
    ├── run rerun-of-owl  b2b2b2b2b2b2 · auc=0.8  [≠ differs]
    │   └── data models/model.pkl  ffffffffff · 999 B
    └── model churn v2  @champion
"""


def test_dot_mermaid_and_text_of_a_small_graph() -> None:
    assert render.to_dot(SMALL) == DOT
    assert render.to_mermaid(SMALL) == MERMAID
    assert render.to_text(SMALL) == TEXT
    narrow = render.to_text(SMALL, width=40).splitlines()
    assert max(len(line) for line in narrow) == 40
    assert narrow[4].endswith("…  (inferred)")  # the label is clipped, never the note


def test_ids_and_labels_are_escaped_for_dot_and_mermaid() -> None:
    # DOT's only escape is \"; a backslash must not end a quoted ID.
    assert render.dot_id('model:o"brien/1') == '"model:o\\"brien/1"'
    assert render.dot_id("model:a\\/1") == '"model:a\\/1"'
    assert render.dot_id("model:a\\") == '"model:a\\ "'
    assert render.mermaid_text('a "b" <c> & #d') == "a #quot;b#quot; #lt;c#gt; #38; #35;d"


def test_svg_from_the_real_dot_parses_and_shows_every_label() -> None:
    svg = graphviz.render(render.to_dot(SMALL), "svg")
    root = ET.fromstring(svg)
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    boxed = {f"data:{PKL_A}", f"data:{PKL_B}"}  # two versions of one path: in a box
    for node in SMALL.nodes:
        for line in render.label(node, grouped=node.key in boxed):
            assert line in texts, (line, texts)
    assert {"models/model.pkl", "≠ differs"} <= texts  # the box's and the rerun edge's labels


def test_json_is_node_link_with_the_node_keys_show_uses() -> None:
    doc = render.to_json(SMALL)
    graph = nx.node_link_graph(doc)
    assert set(graph.nodes) == {n.key for n in SMALL.nodes}
    assert graph.nodes[f"run:{RUN}"]["reproductions"] == ["differs"]
    assert graph.edges[f"data:{RAW}", f"run:{RUN}"]["evidence"] == "inferred"
    assert graph.edges[f"run:{RUN}", f"run:{RERUN}"]["verdict"] == "differs"
    assert doc["nodes"][-1] == {
        "id": "model:churn/2",
        "kind": "model",
        "label": ["churn v2", "@champion"],
        "name": "churn",
        "version": 2,
        "aliases": ["champion"],
    }


@pytest.mark.parametrize(
    ("moment", "bound"),
    [
        ("2026-11-27T10:00:00Z", "2026-11-27T10:00:01.000Z"),  # the whole second
        ("2026-11-27T10:00+01:00", "2026-11-27T09:01:00.000Z"),  # the whole minute
        ("2026-11-27T10:00:00.250+00:00", "2026-11-27T10:00:00.251Z"),
        ("HEAD~2", None),
        ("2026-13-01", None),
    ],
)
def test_as_of_moments_include_what_they_name(moment: str, bound: str | None) -> None:
    assert moment_bound(moment) == bound


# -- the command, on a real project ------------------------------------------------------------


def graph_json(trained: Trained, *args: str) -> dict:
    out = lineage(trained.repo, "graph", *args, "--format", "json", env=trained.env).stdout
    return json.loads(out)


def node_ids(doc: dict) -> set[str]:
    return {n["id"] for n in doc["nodes"]}


def test_graph_of_data_goes_downstream_and_as_of_leaves_out_later_records(
    trained: Trained,
) -> None:
    runs, v1 = trained.runs, trained.raw["v1"]
    now = graph_json(trained, f"data/raw.csv@{v1[:8]}")
    assert now["graph"]["direction"] == "downstream"
    assert node_ids(now) == {
        f"data:{v1}",
        f"run:{runs['R1']}",
        f"run:{runs['R2']}",
        "model:churn/1",
        "model:churn/2",
    }
    champion = next(n for n in now["nodes"] if n["id"] == "model:churn/2")
    assert champion["aliases"] == ["champion"] and champion["label"] == ["churn v2", "@champion"]

    then = graph_json(trained, v1, "--as-of", trained.created["R1"], "--no-aliases")
    assert node_ids(then) == {f"data:{v1}", f"run:{runs['R1']}", "model:churn/1"}
    # A commit means its committer date: "More data" came after R1 and R2 (and R5, elsewhere).
    later = graph_json(trained, v1, "--as-of", trained.commits["More data"][:10], "--no-aliases")
    assert node_ids(later) == node_ids(now)

    proc = lineage(
        trained.repo, "graph", "churn/3", "--as-of", "main~1", check=False, env=trained.env
    )  # main~1 is "More data": R3 trained churn/3 after it
    assert proc.returncode == 1
    assert proc.stderr == (
        "lineage: error: nothing about churn/3 was recorded as of main~1; drop --as-of or give "
        "a later commit or date\n"
    )


def test_graph_of_a_model_goes_upstream_to_code_and_data(trained: Trained) -> None:
    doc = graph_json(trained, "churn@staging")  # R4 read raw v2 and what R3 prepared from it
    runs = trained.runs
    assert doc["graph"]["direction"] == "upstream"
    assert node_ids(doc) == {
        f"commit:{trained.commits['Ran pipeline']}",
        f"commit:{trained.commits['More data']}",
        f"data:{trained.raw['v2']}",
        f"data:{trained.prepared}",
        f"run:{runs['R3']}",
        f"run:{runs['R4']}",
        "model:churn/4",
    }
    shallow = graph_json(trained, "churn/4", "--depth", "1", "--no-aliases")
    assert node_ids(shallow) == {f"run:{runs['R4']}", "model:churn/4"}
    name = next(n["name"] for n in doc["nodes"] if n["id"] == f"run:{runs['R4']}")
    text = lineage(trained.repo, "graph", "churn/4", "--no-aliases", env=trained.env).stdout
    assert text.splitlines()[:2] == [
        "model churn v4",
        f"└── run {name}  {runs['R4'][:12]} · score=0.7123",
    ]


def test_svg_and_png_files_come_from_dot_and_binary_needs_o(
    trained: Trained, tmp_path: Path
) -> None:
    svg = tmp_path / "churn.svg"
    proc = lineage(trained.repo, "graph", "churn/4", "-o", str(svg), "--no-aliases")
    assert proc.stderr == f"lineage: wrote 7 nodes and 7 edges to {svg} (svg)\n"
    texts = {t.text for t in ET.parse(svg).iter("{http://www.w3.org/2000/svg}text")}
    for node in graph_json(trained, "churn/4", "--no-aliases")["nodes"]:
        assert set(node["label"]) <= texts
    png = tmp_path / "churn.png"
    lineage(trained.repo, "graph", "churn/4", "-o", str(png), "--no-aliases")
    assert png.read_bytes().startswith(b"\x89PNG\r\n")

    proc = lineage(trained.repo, "graph", "churn/4", "--format", "png", check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "--format png is binary; write it to a file with -o FILE (e.g. -o graph.png)" in (
        proc.stderr
    )
    proc = lineage(trained.repo, "graph", "churn/4", "-o", "x.jpeg", check=False)
    assert proc.returncode == 1 and proc.stderr.startswith(
        "lineage: error: cannot tell the format from the name 'x.jpeg'; give --format"
    )


def test_without_dot_pictures_fail_in_one_line_and_other_formats_work(
    trained: Trained, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"  # git, but no Graphviz
    bin_dir.mkdir()
    for tool in ("git",):
        (bin_dir / tool).symlink_to(Path("/usr/bin", tool).resolve())
    venv_bin = Path(os.environ["PATH"].split(os.pathsep)[0])
    assert not (venv_bin / "dot").exists()
    env = {**trained.env, "PATH": f"{venv_bin}{os.pathsep}{bin_dir}"}
    for args in (["-o", str(tmp_path / "g.svg")], ["--format", "pdf", "-o", "g.pdf"]):
        proc = lineage(trained.repo, "graph", "churn/4", *args, check=False, env=env)
        fmt = "svg" if args[0] == "-o" else "pdf"
        assert proc.returncode == 1
        assert proc.stderr == (
            f"lineage: error: --format {fmt} needs Graphviz's `dot`, which is not on PATH; "
            "install Graphviz (apt-get install graphviz, brew install graphviz) or use "
            "--format dot, mermaid, json or text\n"
        )
    assert not (tmp_path / "g.svg").exists()
    starts = {"dot": "digraph lineage {", "mermaid": "flowchart LR", "json": "{", "text": "model"}
    for fmt, start in starts.items():
        proc = lineage(trained.repo, "graph", "churn/4", "--format", fmt, "--no-aliases", env=env)
        assert proc.stdout.startswith(start) and proc.stderr == ""


def test_help_and_answers_without_aliases_import_no_heavy_module(trained: Trained) -> None:
    for args, reached in (
        (["graph", "--help"], "lineage.cli"),
        (["impact", "--help"], "lineage.cli"),
        (["graph", trained.runs["R1"], "--format", "dot"], "lineage.render"),  # no model
        (["impact", trained.raw["v1"], "--no-aliases"], "lineage.commands.impact"),
    ):
        mods = imported_modules(trained.repo, *args)
        assert reached in mods and not {m.split(".")[0] for m in mods} & set(HEAVY), args


def imported_modules(cwd: Path, *args: str) -> set[str]:
    """Every module `lineage ARGS` imported (tests/test_cli.py's, with full names)."""
    code = (
        "import sys, runpy\n"
        f"sys.argv = ['lineage', *{list(args)!r}]\n"
        "try:\n    runpy.run_module('lineage', run_name='__main__')\n"
        "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print('\\n'.join(sorted(sys.modules)), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return set(proc.stderr.splitlines())
