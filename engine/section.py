"""The base of every config section, so the sections that live beside their components (each
actor's ``config.py``) and the ones ``engine.config`` assembles share one set of rules."""

from __future__ import annotations

import msgspec


class Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A config section: frozen once read, unknown keys refused (a typo is an error, not a
    silently ignored setting), fields given by name."""
