"""``shikra instruments refresh`` with no daemon running: the master downloaded from the
configured URL (a loopback server here), or the failure named and the last good master kept."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from engine.cli import main
from engine.cli.common import EXIT_ERROR, EXIT_OK
from engine.model.lookup import instruments_dir
from engine.model.master_refresh import DOWNLOADED_MASTER, read_meta
from engine.model.sample_master import sample_master_text
from tests.support.master_server import MasterServer


def test_refresh_by_hand_downloads_the_master_and_a_bad_one_keeps_the_last_good(
        tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    with MasterServer() as server:
        config = tmp_path / "shikra.toml"
        config.write_text(f'[instruments]\nmaster = "dhan"\n[instruments.download]\nurl = "{server.url}"\n'
                          "min_rows = 100\n")
        monkeypatch.setenv("SHIKRA_CONFIG", str(config))
        server.serve(sample_master_text(dt.date(2026, 12, 7)).encode())
        assert main(["instruments", "refresh", "--data-dir", str(data)]) == EXIT_OK
        out = capsys.readouterr().out
        assert "510 instruments, dated" in out
        good = (instruments_dir(data) / DOWNLOADED_MASTER).read_bytes()
        server.serve(b"<html>maintenance</html>\n")
        assert main(["instruments", "refresh", "--data-dir", str(data)]) == EXIT_ERROR
        err = capsys.readouterr().err
        assert "bad_columns" in err and len(err) < 600  # what is wrong, never the body whole
        assert (instruments_dir(data) / DOWNLOADED_MASTER).read_bytes() == good
        assert read_meta(instruments_dir(data)).rows == 510  # type: ignore[union-attr]
