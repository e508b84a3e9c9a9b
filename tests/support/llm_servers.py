"""A real HTTP proxy for the LLM tier's tests: a stdlib server in front of llama_cpp.server
(the session fixture ``llm_base_url``) that answers chosen statuses (429 with Retry-After, 503)
before passing requests through. The client under test speaks real HTTP to it.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from outreach.stack import free_port


class FlakyProxy:
    """Answers the next queued statuses itself, then forwards to ``upstream`` (or answers 503
    while ``down`` is set). ``seen`` counts every request that reached it."""

    def __init__(self, upstream: str | None) -> None:
        self.upstream = upstream.rstrip("/") if upstream else None
        self.failures: list[tuple[int, dict[str, str]]] = []
        self.down = threading.Event()
        self.seen = 0
        self.forwarded = 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                pass

            def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._answer(200, b'{"data": []}', {"content-type": "application/json"})

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with proxy.lock:
                    proxy.seen += 1
                    failure = proxy.failures.pop(0) if proxy.failures else None
                if failure is None and (proxy.down.is_set() or proxy.upstream is None):
                    failure = (503, {})
                if failure is not None:
                    status, headers = failure
                    self._answer(status, b'{"error": "injected"}',
                                 {"content-type": "application/json", **headers})
                    return
                path = self.path.removeprefix("/v1")
                reply = httpx.post(f"{proxy.upstream}{path}", content=body, timeout=600,
                                   headers={"content-type": "application/json"})
                with proxy.lock:
                    proxy.forwarded += 1
                self._answer(reply.status_code, reply.content,
                             {"content-type": reply.headers.get("content-type", "")})

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FlakyProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
