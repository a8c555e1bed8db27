"""Everything lineage asks of Graphviz: its ``dot`` binary draws DOT as SVG, PNG or PDF.

The binary is run directly (``dot -T<format>``, DOT on stdin, the drawing on stdout), so there
is no Python binding to install and nothing to import when it is not needed.
"""

from __future__ import annotations

import shutil
import subprocess

from lineage.errors import LineageError

FORMATS = ("svg", "png", "pdf")
TIMEOUT_S = 300.0
PNG_DPI = 144  # sharp on high-density screens; Graphviz's default 96 looks blurry


class GraphvizMissingError(LineageError):
    def __init__(self, fmt: str) -> None:
        self.format = fmt
        super().__init__(
            f"--format {fmt} needs Graphviz's `dot`, which is not on PATH; install Graphviz "
            "(apt-get install graphviz, brew install graphviz) or use --format dot, mermaid, "
            "json or text"
        )


class GraphvizFailedError(LineageError):
    def __init__(self, fmt: str, reason: str) -> None:
        self.format = fmt
        self.reason = reason
        super().__init__(
            f"Graphviz's `dot -T{fmt}` failed ({reason}); write the DOT with --format dot and "
            "run `dot` on it to see more"
        )


def find_dot(fmt: str) -> str:
    """The path of ``dot``; raises GraphvizMissingError naming the format that needed it."""
    path = shutil.which("dot")
    if path is None:
        raise GraphvizMissingError(fmt)
    return path


def render(source: str, fmt: str) -> bytes:
    """The drawing of DOT ``source`` in ``fmt`` (svg, png or pdf)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, not {fmt!r}")
    args = [find_dot(fmt), f"-T{fmt}"]
    if fmt == "png":
        args.append(f"-Gdpi={PNG_DPI}")
    try:
        proc = subprocess.run(
            args, input=source.encode("utf-8"), capture_output=True, timeout=TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        raise GraphvizFailedError(fmt, f"no drawing after {TIMEOUT_S:g} s") from None
    except OSError as exc:
        raise GraphvizFailedError(fmt, exc.strerror or str(exc)) from None
    if proc.returncode != 0:
        lines = proc.stderr.decode(errors="replace").strip().splitlines()
        raise GraphvizFailedError(fmt, lines[-1] if lines else f"exit {proc.returncode}")
    return proc.stdout
