"""The daily download of the instrument master (Dhan's, or Kite's instrument dump): fetch,
validate, swap in atomically, keep the last good one.

Files, in ``<data_dir>/instruments/`` (:func:`engine.model.lookup.instruments_dir`), written only by
the process that refreshes (the supervisor, or ``shikra instruments refresh`` with no daemon),
named by the source (``dhan`` or ``kite``, the ``[instruments] master`` that downloads):

- ``<source>-master.csv``: the master in use (``[instruments] master = "<source>"`` opens it);
- ``<source>-master.previous.csv``: the one it replaced (the last good before it);
- ``<source>-master.json``: :class:`MasterMeta` of the one in use (its date, rows, checksum).

A refresh downloads to a temp file beside them, validates it (the source's header with every required
column, at least ``min_rows`` rows and within ``row_band_pct`` of the last good master's rows, no
(segment, security id) twice), then renames it over ``dhan-master.csv`` (a reader sees the old
file or the new one, never half) after hard-linking the old one to ``previous``. Any failure
leaves the master in use untouched and raises :class:`MasterRefreshFailed` with a reason code.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import urllib.error
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Final, Literal, get_args

import msgspec

from engine.files import replace_file
from engine.model.ist import ist_date
from engine.model.master_csv import MasterFormatError, SkipReason, parse_master
from engine.section import Section

DHAN_DETAILED_MASTER_URL: Final = "https://images.dhan.co/api-data/api-scrip-master-detailed.csv"  # DHAN_PROTOCOL.md D
KITE_INSTRUMENTS_URL: Final = "https://api.kite.trade/instruments"  # KITE_PROTOCOL.md D
# The masters the engine downloads, by the [instruments] master value that asks for them.
MasterSource = Literal["dhan", "kite"]
MASTER_SOURCES: Final[tuple[MasterSource, ...]] = get_args(MasterSource)
DOWNLOADED_MASTER: Final = "dhan-master.csv"
PREVIOUS_MASTER: Final = "dhan-master.previous.csv"
MASTER_META: Final = "dhan-master.json"
_CHUNK_BYTES: Final = 1 << 20

RefreshReason = Literal["download_failed", "too_large", "bad_columns", "too_few_rows", "rows_out_of_band",
                        "duplicate_ids", "write_failed"]


class MasterDownloadConfig(Section):
    """``[instruments.download]``: where the daily master comes from and what passes validation."""

    url: str = DHAN_DETAILED_MASTER_URL  # master = "dhan"
    kite_url: str = KITE_INSTRUMENTS_URL  # master = "kite"
    timeout_s: float = 120.0
    max_bytes: int = 1_000_000_000
    min_rows: int = 1000            # fewer rows than this is a broken file, whatever the last one had
    row_band_pct: float = 20.0      # rows may differ from the last good master's by at most this share

    def __post_init__(self) -> None:
        for key in ("url", "kite_url"):
            url = getattr(self, key)
            if not url.startswith(("https://", "http://")):
                raise ValueError(f"instruments.download.{key}: must be an http(s) URL, got {url[:80]!r}")
        if not 0 < self.row_band_pct:
            raise ValueError(f"instruments.download.row_band_pct: must be > 0, got {self.row_band_pct}")
        if self.min_rows < 1:
            raise ValueError(f"instruments.download.min_rows: must be >= 1, got {self.min_rows}")


class MasterMeta(msgspec.Struct, frozen=True):
    """The downloaded master in use: its IST date (of the download), rows loaded, sha256."""

    master_date: str
    rows: int
    downloaded_ns: int
    sha256: str


class MasterRefreshFailed(Exception):
    """A refresh failed; the master in use is unchanged. ``detail`` never holds the file's text."""

    def __init__(self, reason_code: RefreshReason, detail: str) -> None:
        super().__init__(f"{reason_code}: {detail}")
        self.reason_code = reason_code
        self.detail = detail


Fetch = Callable[[str, float], BinaryIO]


def _urlopen(url: str, timeout_s: float) -> BinaryIO:
    # Here, not at the top: urllib.request (http, email, ssl: ~3.5 MB) loads only in the process
    # that downloads, not in every actor that reads the config.
    import urllib.request

    return urllib.request.urlopen(url, timeout=timeout_s)  # type: ignore[no-any-return]


def master_source(master: str) -> MasterSource | None:
    """The download an ``[instruments] master`` value asks for; None for "sample" or a file."""
    return master if master in MASTER_SOURCES else None  # type: ignore[return-value]


def _names(source: MasterSource) -> tuple[str, str, str]:
    """(in use, previous, meta) file names of a source's master."""
    return f"{source}-master.csv", f"{source}-master.previous.csv", f"{source}-master.json"


def downloaded_master_path(instruments: Path, source: MasterSource = "dhan") -> Path:
    return instruments / _names(source)[0]


def read_meta(instruments: Path, source: MasterSource = "dhan") -> MasterMeta | None:
    """The meta of the master in use; None when none was downloaded (or the file is unreadable:
    the next refresh then validates without the row band)."""
    try:
        return msgspec.json.decode((instruments / _names(source)[2]).read_bytes(), type=MasterMeta)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None


def check_rows(rows: int, last_good_rows: int | None, cfg: MasterDownloadConfig) -> None:
    """Raises MasterRefreshFailed when ``rows`` is below ``min_rows`` or outside the band around
    the last good master's rows."""
    if rows < cfg.min_rows:
        raise MasterRefreshFailed("too_few_rows", f"{rows} instruments, fewer than instruments.download.min_rows "
                                                  f"{cfg.min_rows}")
    if last_good_rows:
        change_pct = abs(rows - last_good_rows) * 100.0 / last_good_rows
        if change_pct > cfg.row_band_pct:
            raise MasterRefreshFailed("rows_out_of_band", f"{rows} instruments against {last_good_rows} in the last "
                                                          f"good master ({change_pct:.1f}% apart, more than "
                                                          f"instruments.download.row_band_pct {cfg.row_band_pct}%)")


def _download(cfg: MasterDownloadConfig, url: str, to: Path, fetch: Fetch) -> str:
    """The body of ``url`` into ``to``; returns its sha256."""
    digest = hashlib.sha256()
    size = 0
    try:
        with fetch(url, cfg.timeout_s) as resp, open(to, "wb") as out:
            while chunk := resp.read(_CHUNK_BYTES):
                size += len(chunk)
                if size > cfg.max_bytes:
                    raise MasterRefreshFailed("too_large", f"{url} is over instruments.download.max_bytes "
                                                           f"{cfg.max_bytes}")
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    except urllib.error.HTTPError as exc:
        raise MasterRefreshFailed("download_failed", f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise MasterRefreshFailed("download_failed", f"{url}: {str(reason)[:200]}") from None
    return digest.hexdigest()


def _validate(path: Path, cfg: MasterDownloadConfig, last_good_rows: int | None, source: MasterSource) -> int:
    """Rows loaded from the downloaded file, or MasterRefreshFailed."""
    try:
        _arrays, report = parse_master(path, "auto")
        if (report.layout == "kite") != (source == "kite"):
            raise MasterFormatError(f"the download is a {report.layout} master, not a {source} one")
    except MasterFormatError as exc:
        # The parser names the temp file: say "the download" instead.
        raise MasterRefreshFailed("bad_columns", str(exc).replace(str(path), "the downloaded master")[:300]) from None
    except (OSError, ValueError) as exc:
        raise MasterRefreshFailed("bad_columns", f"the downloaded master cannot be read: {str(exc)[:200]}") from None
    duplicates = report.skipped.get(SkipReason.DUPLICATE_ID.value, 0)
    if duplicates:
        raise MasterRefreshFailed("duplicate_ids", f"{duplicates} rows repeat a (segment, security id) listed earlier")
    check_rows(report.rows_loaded, last_good_rows, cfg)
    return report.rows_loaded


def refresh_master(cfg: MasterDownloadConfig, instruments: Path, now_ns: int, fetch: Fetch = _urlopen,
                   source: MasterSource = "dhan") -> MasterMeta:
    """Download (from ``cfg.url`` for Dhan, ``cfg.kite_url`` for Kite), validate and swap in the
    master (see the module docstring); returns the new master's meta. Raises MasterRefreshFailed
    (the master in use unchanged)."""
    instruments.mkdir(parents=True, exist_ok=True)
    in_use, previous_name, meta_name = _names(source)
    tmp = instruments / f".{in_use}.{os.getpid()}.{secrets.token_hex(4)}"
    try:
        sha = _download(cfg, cfg.kite_url if source == "kite" else cfg.url, tmp, fetch)
        last = read_meta(instruments, source)
        current = downloaded_master_path(instruments, source)
        rows = _validate(tmp, cfg, last.rows if last is not None and current.exists() else None, source)
        meta = MasterMeta(ist_date(now_ns).isoformat(), rows, now_ns, sha)
        try:
            if current.exists():
                previous = instruments / previous_name
                previous.unlink(missing_ok=True)
                os.link(current, previous)
            os.replace(tmp, current)
            dir_fd = os.open(instruments, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
            replace_file(instruments / meta_name, msgspec.json.encode(meta))
        except OSError as exc:
            raise MasterRefreshFailed("write_failed", f"{instruments}: {exc.strerror or exc}") from None
        return meta
    finally:
        tmp.unlink(missing_ok=True)
