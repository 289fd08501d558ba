"""How the sender names a target in logs and the CLI."""

from __future__ import annotations

from actors.notify.sender import target_label


def test_a_target_is_named_without_its_secrets():
    assert target_label(0, "tgram://123456789:AAHdqTcv/-1001234") == "#1 tgram"
    assert target_label(1, "discord://4174216298/JHMHI8qBe7bk") == "#2 discord"
    assert target_label(2, "json://user:pw@hooks.example.com:8080/p?token=x") == "#3 json://hooks.example.com:8080"
    assert target_label(3, "mailtos://me:app_password@gmail.com") == "#4 mailtos://gmail.com"
