"""A loopback HTTP server for the instrument master download: serves whatever body (and status)
the test sets at any path, and counts the requests.

    with MasterServer() as server:
        server.serve(sample_master_text(day).encode())
        refresh_master(MasterDownloadConfig(url=server.url, min_rows=10), folder, now_ns)
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MASTER_PATH = "/api-data/api-scrip-master-detailed.csv"


class MasterServer:
    def __init__(self) -> None:
        self.body = b""
        self.status = 200
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
                pass

            def do_GET(self) -> None:
                server.requests += 1
                self.send_response(server.status)
                self.send_header("Content-Type", "text/csv")
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="master-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}{MASTER_PATH}"

    def serve(self, body: bytes, status: int = 200) -> None:
        self.body, self.status = body, status

    def __enter__(self) -> "MasterServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)
