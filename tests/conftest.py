"""Where a test lives says what it may do. Every test under tests/daemon/ starts a daemon or real
actor processes and is marked ``slow`` here, so none can be forgotten; a test anywhere else that is
marked slow fails the collection (it belongs in tests/daemon/), and ``Daemon.start`` refuses to run
outside tests/daemon/. ``./dev test -m "not slow"`` is then exactly the in-process suite."""

from __future__ import annotations

from pathlib import Path

import pytest

DAEMON_TESTS = Path(__file__).parent / "daemon"


def is_daemon_test(path: Path) -> bool:
    return DAEMON_TESTS in Path(path).parents


@pytest.hookimpl(tryfirst=True)  # before -m selects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    strays = []
    for item in items:
        if is_daemon_test(item.path):
            item.add_marker(pytest.mark.slow)
        elif item.get_closest_marker("slow") is not None:
            strays.append(item.nodeid)
    if strays:
        raise pytest.UsageError("marked slow outside tests/daemon/ (daemon tests live there, every other test "
                                "is fast): " + ", ".join(strays))
