"""How an error text quotes a value a client or a config sent: a module without protobuf, so that
an actor quoting a value (the strategy actor) does not load the control API's message library."""

from __future__ import annotations

from typing import Final

QUOTE_CHARS: Final = 80                       # of any value quoted in an error text


def quote_value(value: object, limit: int = QUOTE_CHARS) -> str:
    """``value`` for an error text: its first ``limit`` characters (code points) as a Python
    literal (control characters escaped), then how long it was when it was cut."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text):,} characters)"
