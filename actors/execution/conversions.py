"""Conversions between products (``shikra convert``), the execution actor's side. A mixin of
``ExecutionActor``: it uses the actor's ledger, venue and context.

A ``ConvertPosition`` command is checked first against the products the segment has (CNC is
equity delivery, MARGIN the carry-forward product of derivatives: ``product_refusal``), then
against the ledger (``engine.ledger.fold.
convert_position``: the position exists, holds the units, the products differ, the destination
does not hold the other side); a refusal is answered at once with ``BAD_CONVERSION`` and the
reason. Paper: the conversion is recorded at once (the paper venue mirrors the account's net per
instrument, which a conversion does not change). Live: Dhan is asked (``POST /positions/convert``,
``DhanVenue.request_conversion``) and the conversion is recorded only once Dhan accepted it; a
refusal is answered with Dhan's code and message. Recorded = one ``PositionConverted`` event
naming who asked, then both positions published, then the Reply.
"""

from __future__ import annotations

from typing import Any, Final

from actors.execution.reconcile import ConversionDone
from engine.ledger import FoldIssueCode, PositionConverted
from engine.ledger.fold import convert_position
from ipc import topics
from ipc.messages import ConvertPosition, Reply
from ipc.reasons import RejectReason
from ipc.segments import EQUITY_SEGMENTS, segment_label

BAD_CONVERSION: Final = FoldIssueCode.BAD_CONVERSION.value


def product_refusal(segment: int, from_product: str, to_product: str) -> str | None:
    """Why the segment has no such conversion (None: it has): at Dhan, equity converts between
    INTRADAY and CNC, derivatives between INTRADAY and MARGIN."""
    wrong = "MARGIN" if segment in EQUITY_SEGMENTS else "CNC"
    if wrong in (from_product, to_product):
        kind = "equity converts between INTRADAY and CNC" if segment in EQUITY_SEGMENTS else \
            "derivatives convert between INTRADAY and MARGIN"
        return f"{segment_label(segment)} has no {wrong} position: {kind}"
    return None


def conversion_record(command: ConvertPosition, venue_ref: str) -> PositionConverted:
    return PositionConverted(strategy=command.strategy, segment=command.segment, security_id=command.security_id,
                             from_product=command.from_product, to_product=command.to_product,
                             qty_units=command.qty_units, by=command.by, venue_ref=venue_ref, ts_ns=command.ts_ns)


class Conversions:
    """Mixin for ``ExecutionActor`` (module docstring)."""

    ctx: Any
    log: Any
    ledger: Any
    venue: Any
    live: bool
    trading_enabled: bool
    _marked: Any

    def _conversions_init(self) -> None:
        self._converting: dict[str, str] = {}  # cmd id -> who to answer, while Dhan is asked

    def on_convert_position(self, msg: ConvertPosition) -> None:
        sender = getattr(self.ctx, "sender", "")
        if msg.cmd_id in self._converting:
            return  # a re-send while Dhan is being asked: answered once, when it answers
        wrong = product_refusal(msg.segment, msg.from_product, msg.to_product)
        if wrong is not None:
            self._answer_conversion(sender, msg, False, BAD_CONVERSION, wrong)
            return
        base = (msg.strategy, msg.segment, msg.security_id)
        source = self.ledger.position(*base, msg.from_product)
        refused = convert_position(source, self.ledger.position(*base, msg.to_product), conversion_record(msg, ""))
        if isinstance(refused, str):
            self._answer_conversion(sender, msg, False, BAD_CONVERSION, refused)
            return
        if not self.live:
            self._record_conversion(msg, "", sender)
            return
        if not self.trading_enabled:
            self._answer_conversion(sender, msg, False, RejectReason.NOT_RECONCILED.value,
                                    "the first reconciliation with Dhan has not succeeded yet: try again shortly")
            return
        self._converting[msg.cmd_id] = sender
        if not self.venue.request_conversion(msg, source.net_qty_units > 0, self.ctx.now_ns()):
            del self._converting[msg.cmd_id]
            self._answer_conversion(sender, msg, False, RejectReason.VENUE_HALTED.value,
                                    "live trading stopped after a fatal Dhan error: the conversion was not sent")

    def _live_on_conversion(self, done: ConversionDone) -> None:
        """Dhan answered a conversion asked by ``on_convert_position``."""
        command = done.command
        sender = self._converting.pop(command.cmd_id, "")
        if done.ok:
            self._record_conversion(command, "dhan", sender)
        else:
            self._answer_conversion(sender, command, False, done.reason_code, f"Dhan refused: {done.detail}")

    def _record_conversion(self, command: ConvertPosition, venue_ref: str, sender: str) -> None:
        report = self.ledger.append_report([conversion_record(command, venue_ref)])
        if report.issues:
            detail = report.issues[0][1].detail
            if venue_ref:  # Dhan converted, the ledger cannot: the next reconciliation reports the difference
                self.log.error("conversion_not_recorded", detail=detail, by=command.by)
            self._answer_conversion(sender, command, False, BAD_CONVERSION, detail)
            return
        now = self.ctx.now_ns()
        base = (command.strategy, command.segment, command.security_id)
        for product in (command.from_product, command.to_product):
            position = self.ledger.position(*base, product)
            self.ctx.publish(topics.strategy_topic(topics.POSITION, command.strategy), self._marked(position, now))
        self.log.warning("position_converted", strategy=command.strategy, segment=command.segment,
                         security_id=command.security_id, from_product=command.from_product,
                         to_product=command.to_product, qty_units=command.qty_units, by=command.by,
                         venue=venue_ref or "paper")
        self._answer_conversion(sender, command, True, "", f"{command.qty_units} units {command.from_product} -> "
                                                           f"{command.to_product}")

    def _answer_conversion(self, sender: str, command: ConvertPosition, ok: bool, code: str, detail: str) -> None:
        if not ok:
            self.log.warning("conversion_refused", code=code, detail=detail, by=command.by)
        if sender:
            self.ctx.reply(sender, Reply(command.cmd_id, self.ctx.name, ok, code, detail))
