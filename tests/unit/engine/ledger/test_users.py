"""Users and tokens of the control API in the ledger: the pure fold, the store, rebuild/verify."""

from __future__ import annotations

import copy
import shutil

import lmdb
import pytest

from engine.ledger import (
    FoldIssueCode,
    Ledger,
    LedgerConfig,
    LedgerReader,
    Tables,
    TokenIssued,
    UserAdded,
    UserRevoked,
    fold,
    fold_events,
)
from tests.support.daemon import short_tmpdir

HASH_A = "a" * 64
HASH_B = "b" * 64
HASH_C = "c" * 64


def added(name: str = "alice", role: str = "trader", ts: int = 10, by: str = "root") -> UserAdded:
    return UserAdded(name=name, role=role, by=by, ts_ns=ts)  # type: ignore[arg-type]


def issued(digest: str = HASH_A, name: str = "alice", token_id: str = "t1", ts: int = 11) -> TokenIssued:
    return TokenIssued(token_sha256=digest, token_id=token_id, name=name, by="root", ts_ns=ts)


def run(events: list) -> tuple[Tables, list]:
    return fold_events(list(enumerate(events, start=1)))


def test_user_with_tokens_then_revoke_deactivates_user_and_every_token() -> None:
    tables, issues = run([added(), issued(HASH_A, token_id="t1"), issued(HASH_B, token_id="t2"),
                          added("bob", "viewer"), issued(HASH_C, "bob", "t3"),
                          UserRevoked(name="alice", by="root", ts_ns=20)])
    assert issues == []
    alice = tables.users["alice"]
    assert (alice.role, alice.active, alice.created_ns, alice.updated_ns, alice.updated_by) == \
           ("trader", False, 10, 20, "root")
    assert [(t.token_id, t.revoked, t.revoked_ns) for t in (tables.tokens[HASH_A], tables.tokens[HASH_B])] == \
           [("t1", True, 20), ("t2", True, 20)]
    assert tables.users["bob"].active and not tables.tokens[HASH_C].revoked  # someone else's are untouched


def test_re_adding_a_revoked_user_reactivates_it_but_its_old_tokens_stay_revoked() -> None:
    tables, issues = run([added(), issued(HASH_A), UserRevoked(name="alice", by="root", ts_ns=20),
                          added(role="admin", ts=30), issued(HASH_B, token_id="t2", ts=31)])
    assert issues == []
    assert tables.users["alice"].active and tables.users["alice"].role == "admin"
    assert tables.users["alice"].created_ns == 10  # the user is the same one
    assert tables.tokens[HASH_A].revoked and not tables.tokens[HASH_B].revoked


@pytest.mark.parametrize("events, code", [
    ([issued()], FoldIssueCode.UNKNOWN_USER),  # a token for nobody
    ([added(), UserRevoked(name="alice", by="r", ts_ns=2), issued()], FoldIssueCode.UNKNOWN_USER),
    ([added(), issued(), issued(token_id="again")], FoldIssueCode.DUPLICATE_TOKEN),
    ([UserRevoked(name="ghost", by="r", ts_ns=2)], FoldIssueCode.UNKNOWN_USER),
    ([added(role="superuser")], FoldIssueCode.BAD_FIELD),
    ([added(name="")], FoldIssueCode.BAD_ID),
    ([added(), issued(digest="A" * 64)], FoldIssueCode.BAD_FIELD),  # not lower-case hex
    ([added(), issued(digest="ab")], FoldIssueCode.BAD_FIELD),
])
def test_bad_user_events_are_refused_with_a_code(events, code) -> None:
    _tables, issues = run(events)
    assert [issue.code for _seq, issue in issues] == [code]


def test_user_fold_is_pure() -> None:
    tables, _ = run([added(), issued()])
    before = copy.deepcopy(tables.by_name)
    result = fold(tables, 3, UserRevoked(name="alice", by="root", ts_ns=5))
    assert len(result.changes) == 2  # the user and its one token
    assert tables.by_name == before


@pytest.fixture
def ledger_path():
    path = short_tmpdir("sk-users-")
    yield path / "ledger"
    shutil.rmtree(path, ignore_errors=True)


def test_store_persists_users_and_tokens_and_readers_look_tokens_up_by_hash(ledger_path) -> None:
    with Ledger.open(ledger_path, LedgerConfig(durability="os")) as ledger:
        report = ledger.append_report([added(), issued(HASH_A)], all_or_nothing=True)
        assert report.issues == []
        refused = ledger.append_report([added(), issued(HASH_A)], all_or_nothing=True)  # a re-sent command
        assert [i.code for _n, i in refused.issues] == [FoldIssueCode.DUPLICATE_TOKEN] and refused.seqs == [0, 0]
        assert ledger.user("alice").role == "trader" and ledger.token(HASH_A).name == "alice"
    with Ledger.open(ledger_path, LedgerConfig(durability="os")) as ledger:  # reopened from disk
        assert ledger.token(HASH_A).token_id == "t1"
        ledger.append([UserRevoked(name="alice", by="root", ts_ns=30)])
    with LedgerReader.open(ledger_path) as reader, reader.snapshot() as snap:
        assert snap.token(HASH_A).revoked and not snap.user("alice").active
        assert snap.token(HASH_B) is None and snap.token("") is None and snap.token("x" * 600) is None
        assert set(snap.users()) == {"alice"} and set(snap.tokens()) == {HASH_A}
        assert snap.verify() == []


def test_verify_finds_a_tampered_users_table_and_rebuild_repairs_it(ledger_path) -> None:
    with Ledger.open(ledger_path, LedgerConfig(durability="os")) as ledger:
        ledger.append([added(), issued(HASH_A), UserRevoked(name="alice", by="root", ts_ns=30)])
    # Someone re-activates the user and its token behind the fold's back.
    env = lmdb.open(str(ledger_path), max_dbs=16)
    with env.begin(write=True) as txn:
        txn.delete(b"alice", db=env.open_db(b"users", txn=txn))
        txn.delete(HASH_A.encode(), db=env.open_db(b"tokens", txn=txn))
    env.close()
    with Ledger.open(ledger_path, LedgerConfig(durability="os")) as ledger:
        problems = ledger.verify()
        assert any("users: key 'alice' is missing" in p for p in problems)
        assert any(f"tokens: key '{HASH_A}' is missing" in p for p in problems)
        report = ledger.rebuild_derived()
        assert report.refused == [] and ledger.verify() == []
        assert ledger.token(HASH_A).revoked and not ledger.user("alice").active
