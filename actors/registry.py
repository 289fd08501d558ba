"""Actor names -> classes. Built-in actors are imported lazily so a process imports only what it runs."""

from __future__ import annotations

import importlib

from actors.base import Actor

BUILTIN: dict[str, str] = {
    "feed": "actors.feed.actor:FeedActor",
    "book": "actors.book.actor:BookActor",
    "strategy": "actors.strategy.actor:StrategyActor",
    "risk": "actors.risk.actor:RiskActor",
    "execution": "actors.execution.actor:ExecutionActor",
    "control": "actors.control.actor:ControlActor",
    "gateway": "actors.gateway.actor:GatewayActor",
    "notify": "actors.notify.actor:NotifyActor",
}


# DESIGN.md: stop strategy first so nothing new is decided, execution last so no order is half-done.
# Notify just before execution: it alerts on what the others do while stopping, and its audit rows
# still reach execution.
STOP_ORDER: tuple[str, ...] = ("control", "gateway", "strategy", "risk", "feed", "book", "notify", "execution")


class UnknownActor(Exception):
    pass


def class_path(name: str, overrides: dict[str, str]) -> str:
    path = overrides.get(name) or BUILTIN.get(name)
    if path is None:
        raise UnknownActor(f"actor '{name}' is not built in ({', '.join(sorted(BUILTIN))}); "
                           f"name its class in engine.actor_classes as \"module:Class\"")
    return path


def resolve(name: str, overrides: dict[str, str]) -> type[Actor]:
    """Import the class for ``name``; raises UnknownActor with a message saying what to fix."""
    path = class_path(name, overrides)
    module_name, _, attr = path.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise UnknownActor(f"actor '{name}': cannot load {path}: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, Actor)):
        raise UnknownActor(f"actor '{name}': {path} is not an Actor subclass")
    return cls
