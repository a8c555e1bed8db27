"""What lineage prints never instructs the terminal it prints to.

Records come from anyone who can push to the lineage ref, and paths, REFs and git's messages
from the user's input: any of them may hold an escape sequence (``\\x1b]…``, which can retitle,
recolour or rewrite a terminal) or a carriage return that overwrites a line already shown.
Rather than escape each value at each of the hundreds of places that print one, the CLI and the
hooks write through :class:`EscapingWriter`, which prints every control character but tab and
newline as its Python escape (``\\x1b``, ``\\r``). lineage prints no colours or cursor moves of
its own; a future progress bar writes to ``raw``. JSON output is unaffected (``json.dumps``
already escapes control characters), and so is a child's output, which goes to the inherited
file descriptors, and binary output (``buffer``).

Standard library only: the hooks import it.
"""

from __future__ import annotations

import io
import sys
from typing import Any, TextIO

_KEPT = {"\t", "\n"}
_ESCAPES = {
    code: repr(chr(code))[1:-1]
    for code in (*range(0x20), 0x7F, *range(0x80, 0xA0))
    if chr(code) not in _KEPT
} | {  # a byte of a non-UTF-8 argument or file name, which Python decodes as U+DC80..U+DCFF
    code: f"\\x{code - 0xDC00:02x}" for code in range(0xDC80, 0xDD00)
}


class EscapingWriter(io.TextIOBase):
    """A text stream that passes everything to ``raw`` with control characters escaped."""

    def __init__(self, raw: TextIO) -> None:
        super().__init__()
        self.raw = raw

    def write(self, text: str) -> int:
        escaped = text.translate(_ESCAPES)
        try:
            self.raw.write(escaped)
        except UnicodeEncodeError:  # a byte of a non-UTF-8 argument or name, or a locale's limit
            self.raw.write("".join(self._encodable(c) for c in escaped))
        return len(text)

    def _encodable(self, char: str) -> str:
        """``char``, or its escape where the stream cannot encode it: ``\\xff`` for the
        byte 0xff that Python decoded as the surrogate U+DCFF, ``\\u…`` otherwise."""
        try:
            char.encode(self.raw.encoding or "utf-8")
        except UnicodeEncodeError:
            if "\udc80" <= char <= "\udcff":
                return f"\\x{ord(char) - 0xDC00:02x}"
            return char.encode("ascii", "backslashreplace").decode("ascii")
        return char

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        self.raw.flush()

    def isatty(self) -> bool:
        return self.raw.isatty()

    def fileno(self) -> int:
        return self.raw.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.raw.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self.raw.errors

    @property
    def buffer(self) -> Any:
        return self.raw.buffer


def escape_output() -> None:
    """Make ``sys.stdout`` and ``sys.stderr`` escape control characters (once)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, EscapingWriter):
            setattr(sys, name, EscapingWriter(stream))
