"""Real ledgers on disk, and the damage a disk, a bad copy or a hand can do to them."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import lmdb
import msgspec

from engine.ledger import TRADING_ACCOUNT, CashMovement, Ledger, LedgerConfig, Wallet
from engine.ledger.schema import EVENTS, MAX_DBS, seq_key
from ipc.messages import Fill, OrderEvent, OrderSpec, OrderState

XOR_BYTES = 64 * 1024
START_CASH_PAISE = 10_000_000_00


def write_ledger(directory: Path, orders: int = 400) -> Path:
    """A ledger of a deposit and ``orders`` filled orders (4 events each); returns its data.mdb."""
    with Ledger.open(directory, LedgerConfig(durability="os")) as ledger:
        ledger.append([CashMovement(kind="DEPOSIT", amount_paise=START_CASH_PAISE, account=TRADING_ACCOUNT,
                                    note="", ts_ns=1)])
        for n in range(1, orders + 1):
            coid = ledger.next_client_order_id()
            spec = OrderSpec(segment=1, security_id=2885, side="BUY" if n % 2 else "SELL", order_type="LIMIT",
                             qty_units=10, price_paise=2_450_00)
            order = OrderEvent(client_order_id=coid, intent_id=f"probe-{n}", strategy="probe", spec=spec,
                               state=OrderState.SUBMITTED, filled_qty_units=0, filled_value_paise=0,
                               venue_order_id="", reason_code="", reason="", ts_event_ns=n, ts_init_ns=n)
            assert ledger.record_new_order(order).issue is None
            fill = Fill(fill_id=f"{coid}-f", client_order_id=coid, venue_order_id=f"V{n}", strategy="probe",
                        segment=1, security_id=2885, side=spec.side, qty_units=10, price_paise=spec.price_paise,
                        charges_paise=20, ts_event_ns=n, ts_init_ns=n)
            ledger.append([fill, msgspec.structs.replace(order, state=OrderState.FILLED, filled_qty_units=10,
                                                         filled_value_paise=10 * spec.price_paise)])
    return directory / "data.mdb"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def used_bytes(directory: Path) -> int:
    env = lmdb.open(str(directory), readonly=True, lock=False, max_dbs=MAX_DBS)
    try:
        return (env.info()["last_pgno"] + 1) * env.stat()["psize"]
    finally:
        env.close()


def truncate_to_half(directory: Path) -> None:
    """What a full disk or an interrupted copy leaves: the file cut at half its used size."""
    os.truncate(directory / "data.mdb", used_bytes(directory) // 2)


def xor_middle(directory: Path, count: int = XOR_BYTES) -> None:
    """``count`` bytes XOR-flipped in the middle of the used part of the file."""
    start = used_bytes(directory) // 2 - count // 2
    with open(directory / "data.mdb", "r+b") as fh:
        fh.seek(start)
        block = fh.read(count)
        fh.seek(start)
        fh.write(bytes(b ^ 0xFF for b in block))


def forge_wallet(directory: Path, add_paise: int = 1_00_000_00, *, running: bool = False) -> int:
    """Change the trading account's stored cash (a derived row; the events stay as they were).
    Returns the forged figure. ``running``: a daemon has the ledger open, so take LMDB's writer
    lock like any writer (offline, no lock file is created)."""
    env = lmdb.open(str(directory), max_dbs=MAX_DBS, lock=running)
    try:
        wallets = env.open_db(b"wallets")
        with env.begin(write=True) as txn:
            key = TRADING_ACCOUNT.encode()
            wallet = msgspec.msgpack.decode(txn.get(key, db=wallets), type=Wallet)
            forged = msgspec.structs.replace(wallet, cash_paise=wallet.cash_paise + add_paise)
            txn.put(key, msgspec.msgpack.encode(forged), db=wallets)
            return forged.cash_paise
    finally:
        env.close()


def flip_event_byte(directory: Path, seq: int) -> None:
    """One byte of event ``seq``'s body flipped, the frame (and its CRC) kept: bit rot in a value."""
    env = lmdb.open(str(directory), max_dbs=MAX_DBS, lock=False)
    try:
        events = env.open_db(EVENTS.encode())
        with env.begin(write=True) as txn:
            raw = bytearray(txn.get(seq_key(seq), db=events))
            raw[-1] ^= 0x01
            txn.put(seq_key(seq), bytes(raw), db=events)
    finally:
        env.close()
