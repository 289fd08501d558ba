"""The daily schedule in a real daemon: the supervisor downloads the Dhan master before the actors
start, announces the phase in force, and `shikra schedule` shows it with what ran; `shikra
instruments refresh` refreshes the master through the supervisor (a bad download keeps the last
good master), and `shikra status` shows the master's date."""

from __future__ import annotations

import datetime as dt
import json
import time

from actors.control.config import ControlConfig
from engine.config import Config, InstrumentsConfig
from engine.model.calendar import SessionCalendar
from engine.model.ist import ist_date
from engine.model.lookup import instruments_dir
from engine.model.master_refresh import DOWNLOADED_MASTER, MasterDownloadConfig
from engine.model.sample_master import sample_master_text
from engine.model.schedule import ScheduleConfig, current_phase
from tests.daemon.test_control_api import running_engine
from tests.daemon.test_control_operations import cli
from tests.support.config import daemon_config, engine_section, synthetic_feed
from tests.support.master_server import MasterServer
from tests.support.wait import eventually

ACTORS = ["feed", "book", "strategy", "risk", "execution", "control"]


def test_schedule_and_instruments_refresh_through_the_cli_of_a_running_daemon() -> None:
    today = ist_date(time.time_ns())
    lines = sample_master_text(today).splitlines()
    with MasterServer() as server:
        server.serve(("\n".join(lines[:-1]) + "\n").encode())  # the first master lacks one contract

        def config(control: ControlConfig) -> Config:
            return daemon_config(
                engine=engine_section(ACTORS), feed=synthetic_feed(["RELIANCE"], rate_per_s=50), control=control,
                schedule=ScheduleConfig(backup_keep_days=0),
                instruments=InstrumentsConfig(master="dhan",
                                              download=MasterDownloadConfig(url=server.url, min_rows=100)))

        with running_engine(config, "sk-sched-") as eng:
            assert server.requests == 1  # downloaded before the actors started: there was none
            # The phase in force is announced at start; `shikra schedule` shows it for its day.
            in_force = current_phase(SessionCalendar(), ScheduleConfig(), time.time_ns())

            def began() -> dict | None:
                code, out, err = cli(eng, eng.viewer, "schedule", "--day", in_force.day, "--json")
                assert code == 0, err
                shown = json.loads(out)
                phases = {p["phase"]: p for p in shown["phases"]}
                return shown if int(phases.get(in_force.phase, {}).get("began_ns", 0) or 0) else None

            shown = eventually(began, f"the {in_force.phase} of {in_force.day} shown as begun", 30.0)
            assert shown["day"] == in_force.day and shown["enabled"]
            code, out, err = cli(eng, eng.viewer, "schedule")
            assert code == 0 and "PHASE" in out and "pre_open" in out, err

            def master_tasks() -> list[dict]:
                code, out, _err = cli(eng, eng.viewer, "schedule", "--json")
                return [t for t in json.loads(out).get("tasks", []) if t["task"] == "instrument_master"]

            # A refresh by hand, with a master one contract longer.
            before = len(master_tasks())
            server.serve(("\n".join(lines) + "\n").encode())
            code, out, err = cli(eng, eng.viewer, "instruments", "refresh")
            assert code == 0 and "refresh started" in out, err
            done = eventually(lambda: (t := master_tasks()) and len(t) > before and t,
                              "the refresh shown by `shikra schedule`", 30.0)
            assert done[-1]["ok"] and done[-1]["actor"] == "supervisor"
            code, out, err = cli(eng, eng.viewer, "status", "--json")
            status = json.loads(out)["instruments"]
            assert status == {"master": "dhan", "master_date": today.isoformat(), "rows": len(lines) - 1}
            # The control actor takes the new master (the session boundary, or at once outside it).
            symbol = lines[-1].split(",")[7]
            if in_force.phase != "session":
                def found() -> bool:
                    code, out, _err = cli(eng, eng.viewer, "instruments", "search", symbol, "--json")
                    return code == 0 and any(i["symbol"] == symbol for i in json.loads(out).get("instruments", []))
                eventually(found, f"{symbol} searchable after the refresh", 30.0)

            # A broken download: refused, the last good master kept, shown as failed.
            good = (instruments_dir(eng.d.data_dir) / DOWNLOADED_MASTER).read_bytes()
            server.serve(b"<html>down for maintenance</html>\n")
            assert cli(eng, eng.viewer, "instruments", "refresh")[0] == 0
            failed = eventually(lambda: (t := master_tasks()) and len(t) > before + 1 and t, "the failed refresh", 30.0)
            assert not failed[-1]["ok"] and failed[-1]["reason_code"] == "bad_columns"
            assert (instruments_dir(eng.d.data_dir) / DOWNLOADED_MASTER).read_bytes() == good
    assert dt.date.fromisoformat(in_force.day) <= today
