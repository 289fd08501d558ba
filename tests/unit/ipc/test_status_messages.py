"""The supervisor's status travels on the bus as the same struct ``shikra status`` reads from
``<run_dir>/status.json``: named fields in the file (unchanged for readers of it), any shape on
the wire."""

from __future__ import annotations

import msgspec

from engine.status_file import read_status, write_status
from ipc import codec
from ipc.messages import ActorStatus, DaemonStatus, KillSwitchStatus, SupervisorStatus

STATUS = DaemonStatus(pid=7, state="running", started_ns=1, updated_ns=2, topology="isolated", data_dir="/d",
                      kill_switch=KillSwitchStatus(True, "drill", "ops", 3),
                      actors=[ActorStatus("risk", "risk", 8, "ready", 1, 0, 2, msgs_in=4, msgs_out=5, bad_frames=6)])


def test_supervisor_status_round_trips_on_the_bus() -> None:
    decoded = codec.decode(memoryview(codec.encode(SupervisorStatus(STATUS))))
    assert isinstance(decoded, SupervisorStatus) and decoded.status == STATUS


def test_the_status_file_keeps_its_named_fields(tmp_path) -> None:
    write_status(tmp_path, STATUS)
    raw = msgspec.json.decode((tmp_path / "status.json").read_bytes())
    assert raw["state"] == "running" and raw["kill_switch"] == {"engaged": True, "reason": "drill", "by": "ops",
                                                               "ts_ns": 3}
    assert raw["actors"][0]["name"] == "risk" and raw["actors"][0]["bad_frames"] == 6
    assert read_status(tmp_path) == STATUS
