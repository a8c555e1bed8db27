"""lineage.render: a fixed small graph drawn as DOT, Mermaid, a terminal tree and node-link JSON,
compared as strings."""

from __future__ import annotations

import networkx as nx

from lineage import render
from lineage.graph import (
    BOTH,
    CommitNode,
    DataNode,
    GraphEdge,
    ModelNode,
    RunNode,
    Subgraph,
)

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
