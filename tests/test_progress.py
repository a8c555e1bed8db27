"""lineage/progress.py: when a bar shows (terminal, delay, LINEAGE_PROGRESS), where it is drawn
(the terminal under the CLI's escaping writer), and that it is gone when the work ends."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lineage import progress
from lineage.terminal import EscapingWriter


class Terminal(io.StringIO):
    """A stream that says it is a terminal (tqdm asks, to size the bar)."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def bars_off_afterwards() -> Iterator[None]:
    yield
    progress.enable(False)


def on_terminal(monkeypatch: pytest.MonkeyPatch, *, delay: str = "0") -> Terminal:
    """stderr as the CLI sets it up on a terminal: an escaping writer over it; bars on. Set
    in the test itself: pytest puts its own sys.stderr back between a fixture and the test."""
    raw = Terminal()
    monkeypatch.setattr(sys, "stderr", EscapingWriter(raw))  # type: ignore[arg-type]
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("LINEAGE_PROGRESS_DELAY", delay)
    progress.enable()
    return raw


def test_a_bar_draws_count_and_rate_on_the_raw_terminal_and_is_erased(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    terminal = on_terminal(monkeypatch)
    with progress.bar("copying", total=4, unit="files") as advance:
        advance()
        advance(3)
    drawn = terminal.getvalue()
    assert "\\r" not in drawn  # not escaped by the writer: drawn on the terminal itself
    first = drawn.split("\r")[1]
    assert first.startswith("copying:  25%|") and " 1/4 [" in first and " files/s]" in first
    assert drawn.endswith("\r") and drawn.split("\r")[-2].strip() == ""  # erased


def test_no_bar_before_the_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = on_terminal(monkeypatch, delay="3600")
    with progress.bar("copying", total=4) as advance:
        advance(4)
    assert terminal.getvalue() == ""


def test_a_total_learnt_during_the_work_is_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = on_terminal(monkeypatch)
    with progress.bar("fetching", unit="files") as advance:
        advance(0, total=7)  # nothing done yet: nothing drawn
        assert terminal.getvalue() == ""
        advance(2)
    assert " 2/7 [" in terminal.getvalue()


def test_no_bar_unless_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = on_terminal(monkeypatch)
    progress.enable(False)
    with progress.bar("copying", total=4) as advance:
        advance(4)
    assert terminal.getvalue() == ""


def test_bars_are_wanted_only_on_a_terminal_without_json_or_lineage_progress_0(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "stdout", Terminal())
    monkeypatch.setattr(sys, "stderr", EscapingWriter(Terminal()))  # type: ignore[arg-type]
    monkeypatch.delenv("LINEAGE_PROGRESS", raising=False)
    assert progress.wanted() and not progress.wanted(json_output=True)
    for off in ("0", "off", "no", "false"):
        monkeypatch.setenv("LINEAGE_PROGRESS", off)
        assert not progress.wanted()
    monkeypatch.setenv("LINEAGE_PROGRESS", "1")
    assert progress.wanted()
    monkeypatch.setattr(sys, "stdout", io.StringIO())  # piped
    assert not progress.wanted()


QUICK_WORK = """\
import io, sys
from lineage import progress

class Terminal(io.StringIO):
    def isatty(self):
        return True

sys.stderr = Terminal()
progress.enable()
with progress.bar("copying", total=1000) as advance:
    for _ in range(1000):
        advance()
print(sys.stderr.getvalue() == "", "tqdm" in sys.modules, file=sys.__stdout__)
"""


def test_work_done_within_the_delay_never_imports_the_bar_library(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_PROGRESS")}
    proc = subprocess.run(
        [sys.executable, "-c", QUICK_WORK], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert proc.stdout == "True False\n", proc.stderr
