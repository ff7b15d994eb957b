"""A tiny OpenAI-compatible server on 127.0.0.1 that plays back recorded replies, so tests run the
real client code (``langchain_openai.ChatOpenAI`` and the ``openai`` package) with no network.

It serves ``POST /v1/chat/completions``, plain or ``stream: true`` (server-sent events), and
answers the way the request asks when it can: with ``tool_calls`` when the request offers
``tools``, with JSON content when it asks for a ``response_format``, else with the recorded text.
``honours_structure=False`` plays a server that ignores tools and JSON requests and always
answers in text, as many do; ``rejects_structure=True`` one that refuses such a request with
HTTP 400, as servers started without a tool parser do. Every request body is kept in ``requests``.

    with FakeOpenAI(Recorded(text="...")) as server:
        ChatOpenAI(model="fake", base_url=server.base_url, api_key="x").invoke("hi")
"""
from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Recorded:
    """One recorded model reply: free text, structured arguments, or both (a server answers a
    structured request with the arguments and a plain one with the text)."""
    text: str | None = None
    arguments: dict | str | None = None     # tool-call arguments / JSON content

    def json_text(self) -> str:
        if self.arguments is None:
            return self.text or ""
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)


def _pieces(text: str, size: int = 7) -> list[str]:
    """Text cut the way a server streams it: short pieces, here words and spaces grouped by ``size`` chars."""
    words = re.findall(r"\S+\s*|\s+", text)
    pieces, current = [], ""
    for word in words:
        current += word
        if len(current) >= size:
            pieces.append(current)
            current = ""
    return pieces + ([current] if current else [])


class FakeOpenAI:
    def __init__(self, *replies: Recorded, honours_structure: bool = True, rejects_structure: bool = False,
                 model: str = "fake-model"):
        self.replies = list(replies) or [Recorded(text="")]
        self.honours_structure = honours_structure
        self.rejects_structure = rejects_structure
        self.model = model
        self.requests: list[dict] = []
        self._served = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle --------------------------------------------------------------------------------
    def start(self) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):      # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                fake.requests.append(body)
                if fake.rejects_structure and (body.get("tools") or body.get("response_format")):
                    return self._send(400, {"error": {"message": "tools and response_format are not supported",
                                                      "type": "invalid_request_error"}})
                recorded = fake.next_reply()
                if body.get("stream"):
                    return self._stream(fake.chunks(body, recorded))
                return self._send(200, fake.completion(body, recorded))

            def _send(self, status: int, data: dict) -> None:
                payload = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _stream(self, chunks: list[dict]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                for chunk in chunks:
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
                self.close_connection = True

            def log_message(self, *args):    # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    # -- what to answer ------------------------------------------------------------------------------
    def next_reply(self) -> Recorded:
        """The recorded replies in order; the last one is repeated."""
        reply = self.replies[min(self._served, len(self.replies) - 1)]
        self._served += 1
        return reply

    def _answer(self, request: dict, recorded: Recorded) -> tuple[str, str | None, str | None]:
        """``(kind, content, tool name)``, kind being "tool" or "text"."""
        if self.honours_structure and request.get("tools") and recorded.arguments is not None:
            choice = request.get("tool_choice")
            name = (choice.get("function", {}).get("name") if isinstance(choice, dict) else None) \
                or request["tools"][0]["function"]["name"]
            return "tool", recorded.json_text(), name
        if self.honours_structure and request.get("response_format") and recorded.arguments is not None:
            return "text", recorded.json_text(), None
        return "text", recorded.text if recorded.text is not None else recorded.json_text(), None

    def _envelope(self, obj: str, choice: dict) -> dict[str, Any]:
        return {"id": "chatcmpl-fake", "object": obj, "created": 0, "model": self.model, "choices": [choice]}

    def completion(self, request: dict, recorded: Recorded) -> dict:
        kind, content, name = self._answer(request, recorded)
        if kind == "tool":
            message = {"role": "assistant", "content": None, "refusal": None, "tool_calls": [
                {"id": "call_fake_1", "type": "function", "function": {"name": name, "arguments": content}}]}
            finish = "tool_calls"
        else:
            message, finish = {"role": "assistant", "content": content, "refusal": None}, "stop"
        data = self._envelope("chat.completion", {"index": 0, "message": message, "finish_reason": finish,
                                                  "logprobs": None})
        data["usage"] = {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}
        return data

    def chunks(self, request: dict, recorded: Recorded) -> list[dict]:
        kind, content, name = self._answer(request, recorded)

        def chunk(delta: dict, finish: str | None = None) -> dict:
            return self._envelope("chat.completion.chunk", {"index": 0, "delta": delta, "finish_reason": finish,
                                                            "logprobs": None})

        out = [chunk({"role": "assistant", "content": ""})]
        if kind == "tool":
            out.append(chunk({"tool_calls": [{"index": 0, "id": "call_fake_1", "type": "function",
                                              "function": {"name": name, "arguments": ""}}]}))
            out += [chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
                    for piece in _pieces(content)]
            out.append(chunk({}, "tool_calls"))
        else:
            out += [chunk({"content": piece}) for piece in _pieces(content)]
            out.append(chunk({}, "stop"))
        if (request.get("stream_options") or {}).get("include_usage"):
            usage = self._envelope("chat.completion.chunk", {})
            usage["choices"] = []
            usage["usage"] = {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}
            out.append(usage)
        return out
