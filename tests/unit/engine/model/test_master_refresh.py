"""The daily instrument master download: validation, the atomic swap, the last good master kept."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engine.model.ist import ist_ns
from engine.model.lookup import open_instruments
from engine.model.master_refresh import (
    DOWNLOADED_MASTER,
    PREVIOUS_MASTER,
    MasterDownloadConfig,
    MasterRefreshFailed,
    check_rows,
    read_meta,
    refresh_master,
)
from engine.model.sample_master import sample_master_text
from tests.support.kite_instruments import kite_dump
from tests.support.master_server import MasterServer

MONDAY = dt.date(2026, 12, 7)
NOW = ist_ns(MONDAY, dt.time(8, 30))


def _master(day: dt.date = MONDAY, drop: int = 0) -> bytes:
    lines = sample_master_text(day).splitlines()
    return ("\n".join(lines[:len(lines) - drop]) + "\n").encode()


@pytest.fixture()
def server():
    with MasterServer() as s:
        yield s


def _cfg(server: MasterServer, **kw: object) -> MasterDownloadConfig:
    return MasterDownloadConfig(url=server.url, **{"min_rows": 100, **kw})  # type: ignore[arg-type]


def test_a_good_master_is_swapped_in_and_opened_as_master_dhan(server: MasterServer, tmp_path: Path) -> None:
    server.serve(_master())
    folder = tmp_path / "instruments"
    meta = refresh_master(_cfg(server), folder, NOW)
    assert meta.master_date == "2026-12-07" and meta.rows == 510
    assert read_meta(folder) == meta
    table = open_instruments("dhan", tmp_path, MONDAY)
    assert len(table) == 510 and table.by_symbol("NIFTY") is not None
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []  # no temp file left


def test_a_second_refresh_keeps_the_one_it_replaced_as_previous(server: MasterServer, tmp_path: Path) -> None:
    folder = tmp_path / "instruments"
    server.serve(_master())
    refresh_master(_cfg(server), folder, NOW)
    first = (folder / DOWNLOADED_MASTER).read_bytes()
    server.serve(_master(MONDAY + dt.timedelta(days=1), drop=3))
    meta = refresh_master(_cfg(server), folder, NOW + 86_400 * 10**9)
    assert meta.master_date == "2026-12-08" and meta.rows == 507
    assert (folder / PREVIOUS_MASTER).read_bytes() == first
    assert (folder / DOWNLOADED_MASTER).read_bytes() == server.body


@pytest.mark.parametrize(("body", "status", "reason"), [
    (b"SYMBOL,PRICE\nA,1\n", 200, "bad_columns"),
    (b"EXCH_ID,SEGMENT,SECURITY_ID\nNSE,E,1\n", 200, "bad_columns"),  # detailed but columns missing
    (b"", 404, "download_failed"),
    (b"", 500, "download_failed"),
])
def test_a_bad_download_leaves_the_last_good_master_in_use(server: MasterServer, tmp_path: Path, body: bytes,
                                                           status: int, reason: str) -> None:
    folder = tmp_path / "instruments"
    server.serve(_master())
    good = refresh_master(_cfg(server), folder, NOW)
    good_bytes = (folder / DOWNLOADED_MASTER).read_bytes()
    server.serve(body, status)
    with pytest.raises(MasterRefreshFailed) as err:
        refresh_master(_cfg(server), folder, NOW + 86_400 * 10**9)
    assert err.value.reason_code == reason
    assert (folder / DOWNLOADED_MASTER).read_bytes() == good_bytes
    assert read_meta(folder) == good
    assert not (folder / PREVIOUS_MASTER).exists()
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []


def test_too_few_rows_against_the_last_good_master_is_refused(server: MasterServer, tmp_path: Path) -> None:
    folder = tmp_path / "instruments"
    server.serve(_master())
    refresh_master(_cfg(server), folder, NOW)
    server.serve(_master(drop=200))  # 310 rows against 510: 39 % fewer
    with pytest.raises(MasterRefreshFailed) as err:
        refresh_master(_cfg(server, row_band_pct=20.0), folder, NOW)
    assert err.value.reason_code == "rows_out_of_band" and "310 instruments against 510" in err.value.detail
    assert read_meta(folder).rows == 510  # type: ignore[union-attr]


def test_fewer_rows_than_the_minimum_is_refused_even_on_a_first_download(server: MasterServer,
                                                                         tmp_path: Path) -> None:
    server.serve(_master(drop=450))
    with pytest.raises(MasterRefreshFailed) as err:
        refresh_master(_cfg(server, min_rows=100), tmp_path / "instruments", NOW)
    assert err.value.reason_code == "too_few_rows"
    assert not (tmp_path / "instruments" / DOWNLOADED_MASTER).exists()


def test_a_security_id_listed_twice_is_refused(server: MasterServer, tmp_path: Path) -> None:
    lines = sample_master_text(MONDAY).splitlines()
    server.serve(("\n".join(lines + [lines[5]]) + "\n").encode())
    with pytest.raises(MasterRefreshFailed) as err:
        refresh_master(_cfg(server), tmp_path / "instruments", NOW)
    assert err.value.reason_code == "duplicate_ids" and "1 rows" in err.value.detail


def test_an_unreachable_host_is_a_download_failure(tmp_path: Path) -> None:
    with MasterServer() as s:
        url = s.url
    with pytest.raises(MasterRefreshFailed) as err:
        refresh_master(MasterDownloadConfig(url=url, timeout_s=2.0), tmp_path / "instruments", NOW)
    assert err.value.reason_code == "download_failed"


def test_a_download_over_max_bytes_is_refused(server: MasterServer, tmp_path: Path) -> None:
    server.serve(_master())
    with pytest.raises(MasterRefreshFailed) as err:
        refresh_master(_cfg(server, max_bytes=1000), tmp_path / "instruments", NOW)
    assert err.value.reason_code == "too_large"


@pytest.mark.parametrize(("rows", "last", "ok"), [(100, None, True), (99, None, False), (1200, 1000, True),
                                                  (1201, 1000, False), (800, 1000, True), (799, 1000, False),
                                                  (99, 100, False)])
def test_the_row_band_is_a_share_of_the_last_good_master(rows: int, last: int | None, ok: bool) -> None:
    cfg = MasterDownloadConfig(min_rows=100, row_band_pct=20.0)
    if ok:
        check_rows(rows, last, cfg)
    else:
        with pytest.raises(MasterRefreshFailed):
            check_rows(rows, last, cfg)


def test_a_swap_is_atomic_a_reader_sees_the_old_file_or_the_new_one(server: MasterServer, tmp_path: Path) -> None:
    """The new file is renamed over the old one (same inode replaced, never written in place): a
    reader holding the old file open keeps reading it whole."""
    folder = tmp_path / "instruments"
    server.serve(_master())
    refresh_master(_cfg(server), folder, NOW)
    old = (folder / DOWNLOADED_MASTER).read_bytes()
    with open(folder / DOWNLOADED_MASTER, "rb") as reader:
        server.serve(_master(MONDAY + dt.timedelta(days=1)))
        refresh_master(_cfg(server), folder, NOW)
        assert reader.read() == old
    assert (folder / DOWNLOADED_MASTER).read_bytes() == server.body


def test_the_kite_dump_is_a_second_source_with_its_own_files(server: MasterServer, tmp_path: Path) -> None:
    folder = tmp_path / "instruments"
    server.serve(kite_dump(200))
    meta = refresh_master(MasterDownloadConfig(url="https://dhan.invalid/x.csv", kite_url=server.url, min_rows=100),
                          folder, NOW, source="kite")
    assert meta.rows == 211 and read_meta(folder, "kite") == meta and read_meta(folder) is None
    assert (folder / "kite-master.csv").exists() and not (folder / DOWNLOADED_MASTER).exists()
    table = open_instruments("kite", tmp_path, MONDAY)
    chain = table.option_chain("NIFTY", 20261208)
    assert chain is not None and table.spot("NIFTY") is not None


def test_a_dhan_master_served_where_the_kite_dump_should_be_is_refused(server: MasterServer,
                                                                       tmp_path: Path) -> None:
    server.serve(_master())
    with pytest.raises(MasterRefreshFailed) as err:
        refresh_master(MasterDownloadConfig(kite_url=server.url, min_rows=100), tmp_path, NOW, source="kite")
    assert err.value.reason_code == "bad_columns" and "not a kite one" in err.value.detail
