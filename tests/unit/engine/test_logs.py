"""Structured logs: one line per event, secrets masked wherever they appear."""

from __future__ import annotations

import json
import logging

from engine.logs import get_logger, mask, redact, register_secret, setup_logging


def test_mask_keeps_only_the_tail_of_an_id():
    assert mask("1000000001") == "******0001"
    assert mask("abc") == "***"


def test_json_log_line_has_event_and_fields_and_never_a_secret(capsys):
    setup_logging("info", "json", unit="test")
    token = "eyJhbGciOiJIUzUxMiJ9.secret-token-value"
    register_secret(token, keep=0)
    register_secret("1000000001")
    log = get_logger("feed")
    log.info("connected", url=f"wss://x?token={token}&clientId=1000000001", attempt=2)
    logging.getLogger("websockets").warning("raw third-party line with %s", token)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["event"] == "connected" and first["attempt"] == 2 and first["unit"] == "test"
    assert token not in lines[0] and token not in lines[1] and "1000000001" not in lines[0]
    assert "******0001" in lines[0]


def test_text_format_is_key_value(capsys):
    setup_logging("info", "text")
    get_logger("x").warning("slow_peer", peer="risk", lag_ms=12)
    line = capsys.readouterr().err.strip()
    assert "slow_peer" in line and "peer=risk" in line and "lag_ms=12" in line


def test_redact_masks_every_secret_and_skips_empty_ones():
    text = "connect to wss://x?token=tok-123&clientId=1100 failed (token tok-123)"
    assert redact(text, ("tok-123", "", "1100")) == \
        "connect to wss://x?token=********&clientId=******** failed (token ********)"
    assert redact("nothing here", ("", "absent")) == "nothing here"
