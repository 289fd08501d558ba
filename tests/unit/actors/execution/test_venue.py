"""Every venue (paper, Dhan, Kite) implements the one ``Venue`` protocol (actors/execution/venue.py), with the same
signatures: the execution actor drives either through it."""

from __future__ import annotations

import inspect

import pytest

from actors.execution.dhan_venue import DhanVenue
from actors.execution.kite_venue import KiteVenue
from actors.execution.config import PaperVenueConfig
from actors.execution.paper_venue import PaperVenue
from actors.execution.venue import Venue

PROTOCOL_METHODS = sorted(name for name, value in vars(Venue).items()
                          if callable(value) and not name.startswith("_"))


def test_the_protocol_names_every_method_the_venues_have_in_common() -> None:
    def public(cls: type) -> set[str]:
        return {name for name, value in vars(cls).items() if callable(value) and not name.startswith("_")}

    assert public(PaperVenue) & public(DhanVenue) == set(PROTOCOL_METHODS)


@pytest.mark.parametrize("venue_type", [PaperVenue, DhanVenue, KiteVenue], ids=lambda t: t.__name__)
def test_each_venue_is_a_venue(venue_type: type) -> None:
    assert issubclass(venue_type, Venue)


@pytest.mark.parametrize("venue_type", [PaperVenue, DhanVenue, KiteVenue], ids=lambda t: t.__name__)
@pytest.mark.parametrize("method", PROTOCOL_METHODS)
def test_each_venue_method_takes_the_protocols_parameters(venue_type: type, method: str) -> None:
    def parameters(fn: object) -> list[tuple[str, object, object]]:
        return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]  # type: ignore[arg-type]

    assert parameters(getattr(venue_type, method)) == parameters(getattr(Venue, method))


def test_a_paper_venue_instance_is_a_venue() -> None:
    venue: Venue = PaperVenue(PaperVenueConfig())
    assert isinstance(venue, Venue)
