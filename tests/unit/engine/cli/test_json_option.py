"""The README says which commands take ``--json`` and which do not; the CLI's parser agrees, both ways
(a new command has to be put on one list or the other)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from engine.cli import build_parser

README = Path(__file__).resolve().parents[4] / "README.md"


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> dict[str, bool]:
    """Every runnable command ("risk show", "export") -> whether it takes --json."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return {" ".join(path): any("--json" in a.option_strings for a in parser._actions)}
    out: dict[str, bool] = {}
    for action in subs:
        for name, child in action.choices.items():
            out.update(_commands(child, (*path, name)))
    return out


def _named(text: str) -> set[str]:
    """The commands in backticks: ``risk show|halt`` names "risk show" and "risk halt"."""
    out: set[str] = set()
    for quoted in re.findall(r"`([^`]+)`", text):
        head, _, last = quoted.rpartition(" ")
        out.update(f"{head} {alt}".strip() for alt in last.split("|"))
    return out


def _json_paragraph() -> str:
    text = README.read_text()
    start = text.index("**`--json`.**")
    return text[start:text.index("\n\n", start)]


def test_the_readme_lists_exactly_the_commands_that_take_json() -> None:
    paragraph = _json_paragraph().removeprefix("**`--json`.**")
    takes, _, rest = paragraph.partition("`tail` always prints JSON lines.")
    _, _, takes_none = rest.partition("These take no `--json`")
    commands = _commands(build_parser())
    said_to_take = _named(takes) - {"--json"}
    said_not_to = _named(takes_none) - {"--json"}
    assert said_to_take and said_not_to
    assert {c for c in said_to_take if not commands.get(c)} == set(), "the README says these take --json"
    assert {c for c in said_not_to if commands.get(c, True)} == set(), "the README says these take no --json"
    assert set(commands) - said_to_take - said_not_to == {"tail"}, "every command is on one of the lists"
    assert not commands["tail"]
