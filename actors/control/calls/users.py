"""UserService: add, list and revoke users and their tokens. Execution (the ledger's only writer)
records the change; the call answers once the ledger shows it. A mixin of
:class:`actors.control.service.ControlApi`."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import grpc

from actors.control import convert
from actors.control.auth import Principal, check_user_name, new_token
from actors.control.convert import Refusal
from actors.control.peers import EXECUTION
from engine.control_api import control_pb2 as pb
from engine.control_api.quoting import quote_value
from engine.ledger import LedgerSnapshot
from ipc.messages import AddUser, RevokeUser

if TYPE_CHECKING:
    from actors.control.service import ControlApi


def _last_admin(users: dict[str, Any], name: str) -> bool:
    """True when ``name`` is the only active admin: taking it away would lock every admin call
    out until someone with file access runs ``shikra users bootstrap-admin``."""
    user = users.get(name)
    if user is None or not user.active or user.role != "admin":
        return False
    return not any(u.active and u.role == "admin" and n != name for n, u in users.items())


class UserCalls:
    """Mixed into ControlApi (``self`` is the API)."""

    @staticmethod
    def _user_view(snap: LedgerSnapshot) -> tuple[dict[str, Any], dict[str, int]]:
        users = snap.users()
        active: dict[str, int] = {}
        for token in snap.tokens().values():
            if not token.revoked:
                active[token.name] = active.get(token.name, 0) + 1
        return users, active

    async def add_user(self: ControlApi, who: Principal, req: pb.AddUserRequest) -> Any:
        problem = check_user_name(req.name)
        if problem is not None:
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, problem)
        role = convert.ROLE_FROM_PB.get(req.role)
        if role is None:
            return Refusal(grpc.StatusCode.INVALID_ARGUMENT, "role is required: ROLE_VIEWER, ROLE_TRADER or ROLE_ADMIN")
        if role != "admin":
            with self._snapshot() as snap:
                if isinstance(snap, Refusal):
                    return snap
                users = snap.users()
            if _last_admin(users, req.name):
                return Refusal(grpc.StatusCode.FAILED_PRECONDITION,
                               f"{req.name} is the last active admin: make another user admin before changing its role")
        issued = new_token()
        cmd = AddUser(cmd_id=uuid.uuid4().hex, name=req.name, role=role,  # type: ignore[arg-type]
                      token_sha256=issued.token_sha256,
                      token_id=issued.token_id, by=who.name, ts_ns=self.engine.now_ns())
        self.bridge.post(lambda: self.engine.send(EXECUTION, cmd))
        recorded = await self._wait_ledger(lambda s: s.token(issued.token_sha256), self.timeout_s)
        if recorded is None:
            return Refusal(grpc.StatusCode.DEADLINE_EXCEEDED,
                           f"execution did not record user {req.name} within {self.timeout_s}s; the token was not "
                           "issued (ask again)")
        with self._snapshot() as snap:
            assert not isinstance(snap, Refusal)  # it was just read
            users, active = self._user_view(snap)
        return pb.AddUserResponse(user=convert.user_to_pb(users[req.name], active.get(req.name, 0)),
                                  token=issued.token, token_id=issued.token_id)

    async def list_users(self: ControlApi, who: Principal, req: pb.ListUsersRequest) -> Any:
        with self._snapshot() as snap:
            if isinstance(snap, Refusal):
                return snap
            users, active = self._user_view(snap)
        return pb.ListUsersResponse(users=[convert.user_to_pb(u, active.get(name, 0))
                                           for name, u in sorted(users.items())])

    async def revoke_user(self: ControlApi, who: Principal, req: pb.RevokeUserRequest) -> Any:
        name = req.name.strip()
        with self._snapshot() as snap:
            if isinstance(snap, Refusal):
                return snap
            users, active = self._user_view(snap)
        user = users.get(name)
        if user is None:
            return Refusal(grpc.StatusCode.NOT_FOUND, f"no user {quote_value(name)}")
        if _last_admin(users, name):
            return Refusal(grpc.StatusCode.FAILED_PRECONDITION,
                           f"{name} is the last active admin: add another admin first (or, locally, "
                           "`shikra users bootstrap-admin`)")
        tokens = active.get(name, 0)
        if user.active or tokens:
            cmd = RevokeUser(cmd_id=uuid.uuid4().hex, name=name, by=who.name, ts_ns=self.engine.now_ns())
            self.bridge.post(lambda: self.engine.send(EXECUTION, cmd))

            def revoked(s: LedgerSnapshot) -> Any:
                row = s.user(name)
                return row if row is not None and not row.active else None

            row = await self._wait_ledger(revoked, self.timeout_s)
            if row is None:
                return Refusal(grpc.StatusCode.DEADLINE_EXCEEDED,
                               f"execution did not record the revocation of {name} within {self.timeout_s}s")
            user = row
        return pb.RevokeUserResponse(user=convert.user_to_pb(user, 0), tokens_revoked=tokens)
