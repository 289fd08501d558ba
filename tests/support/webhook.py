"""A local HTTP webhook on loopback that records what apprise's ``json://`` posts to it.

    with Webhook() as hook:
        url = hook.url("alerts")          # json://127.0.0.1:PORT/alerts
        ...
        eventually(lambda: hook.find("kill switch"), "the alert")

``fail_first`` answers that many posts with HTTP 500 before accepting (a target that recovers).
"""

from __future__ import annotations

import http.server
import json
import threading
from typing import Any


class Webhook:
    def __init__(self, fail_first: int = 0) -> None:
        self.received: list[dict[str, Any]] = []
        self.refused = 0
        self._fail_left = fail_first
        self._lock = threading.Lock()
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with hook._lock:
                    if hook._fail_left > 0:
                        hook._fail_left -= 1
                        hook.refused += 1
                        status = 500
                    else:
                        hook.received.append({"path": self.path, **json.loads(body)})
                        status = 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook", daemon=True)

    def url(self, path: str = "alerts") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def messages(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.received)

    def find(self, needle: str) -> list[dict[str, Any]]:
        """The posts whose title or message contains ``needle``."""
        return [m for m in self.messages() if needle in m.get("title", "") or needle in m.get("message", "")]

    def __enter__(self) -> "Webhook":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
