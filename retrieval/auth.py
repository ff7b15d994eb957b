"""The web UI's login. It fails closed: a user without a password (or a password without a user)
stops the server from starting, instead of serving without a login. The password comes from
``QA_AUTH_PASSWORD`` or from the file named by ``QA_AUTH_PASSWORD_FILE`` (never a command-line
flag, which other users of the machine can read in the process list). Failed logins are slowed
down and, past a limit, refused per client address for a while (``LoginThrottle``)."""
from __future__ import annotations

import asyncio
import json
import time
from typing import Callable

from retrieval.errors import AuthMisconfigured
from retrieval.settings import Settings

LOGIN_PATH = "/login"
FAILED_LOGIN = 400          # what Gradio answers to wrong credentials


def credentials(settings: Settings) -> tuple[str, str] | None:
    """``(user, password)`` for the UI's login, ``None`` when neither is set. Raises
    ``AuthMisconfigured`` with one sentence when only one of the two is set, or both password
    sources are, or the password file cannot be read or is empty."""
    user = settings.auth_user
    password = settings.auth_password.get_secret_value() if settings.auth_password is not None else None
    if password is not None and settings.auth_password_file is not None:
        raise AuthMisconfigured("Both QA_AUTH_PASSWORD and QA_AUTH_PASSWORD_FILE are set: keep one of them.")
    if settings.auth_password_file is not None:
        path = settings.auth_password_file
        try:
            password = path.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as err:
            raise AuthMisconfigured(f"The password file {path} cannot be read "
                                    f"({getattr(err, 'strerror', None) or err}); the UI does not start without it.") from None
        if not password:
            raise AuthMisconfigured(f"The password file {path} is empty; the UI does not start without a password.")
    if user is None and password is None:
        return None
    if not user:
        raise AuthMisconfigured("A login password is set but QA_AUTH_USER is not: set both, or neither.")
    if not password:
        raise AuthMisconfigured(f"QA_AUTH_USER is set to {user!r} but no password is: set QA_AUTH_PASSWORD or "
                                "QA_AUTH_PASSWORD_FILE; the UI does not start without one.")
    return user, password


class LoginThrottle:
    """ASGI middleware in front of Gradio's ``POST /login``: each failed login from a client address
    waits ``delay`` seconds before its answer; after ``max_failures`` failures within ``window``
    seconds, that address gets 429 (with ``Retry-After``) until the oldest failure leaves the window,
    even for the right password. A successful login clears the address's record.

    Behind a reverse proxy every client has the proxy's address unless the server is started with
    the proxy's forwarded-address headers trusted (see SECURITY.md)."""

    def __init__(self, app, max_failures: int = 5, window: float = 300.0, delay: float = 1.0,
                 clock: Callable[[], float] = time.monotonic):
        self.app, self.max_failures, self.window, self.delay, self.clock = app, max_failures, window, delay, clock
        self.failures: dict[str, list[float]] = {}

    async def __call__(self, scope, receive, send):
        # Under a proxy's path prefix (root_path) the route is still ".../login".
        if scope.get("type") != "http" or scope.get("method") != "POST" \
                or not (scope.get("path") or "").rstrip("/").endswith(LOGIN_PATH):
            return await self.app(scope, receive, send)
        client = (scope.get("client") or ("unknown",))[0]
        recent = self._recent(client)
        if len(recent) >= self.max_failures:
            wait = max(1, int(self.window - (self.clock() - recent[0])) + 1)
            return await _refuse(send, wait)

        async def watch(message):
            if message["type"] == "http.response.start":
                if message["status"] == FAILED_LOGIN:
                    self.failures.setdefault(client, []).append(self.clock())
                    await asyncio.sleep(self.delay)
                elif message["status"] < 300:
                    self.failures.pop(client, None)
            await send(message)

        await self.app(scope, receive, watch)

    def _recent(self, client: str) -> list[float]:
        now = self.clock()
        if len(self.failures) > 10_000:      # forget stale addresses: bounded memory
            self.failures = {c: ts for c, ts in self.failures.items() if ts and now - ts[-1] < self.window}
        recent = [t for t in self.failures.get(client, []) if now - t < self.window]
        if recent:
            self.failures[client] = recent
        else:
            self.failures.pop(client, None)
        return recent


async def _refuse(send, wait: int) -> None:
    body = json.dumps({"detail": f"Too many failed logins from this address; try again in {wait} seconds."}).encode()
    await send({"type": "http.response.start", "status": 429,
                "headers": [(b"content-type", b"application/json"), (b"retry-after", str(wait).encode()),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
