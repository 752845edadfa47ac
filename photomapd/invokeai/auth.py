"""The Bearer token of a multi-user InvokeAI session: when to reuse it and when to replace it."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

# Log in again this long before the token expires, so a request never races the expiry.
EXPIRY_MARGIN_SECONDS = 60.0
DEFAULT_LIFETIME_SECONDS = 86_400.0


def jwt_expiry(token: str) -> float | None:
    """The `exp` claim (epoch seconds) of a JWT, read without verifying: only used for timing."""
    try:
        payload = token.split(".")[1]
        padded = payload + "=" * (-len(payload) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
        exp = claims.get("exp") if isinstance(claims, dict) else None
        return float(exp) if isinstance(exp, int | float) else None
    except (IndexError, ValueError, UnicodeDecodeError):
        return None


@dataclass
class TokenState:
    """One token, its expiry on the wall clock; replaced by login or by `X-Refreshed-Token`."""

    clock: Callable[[], float] = time.time
    token: str | None = None
    expires_at: float = 0.0
    lifetime: float = DEFAULT_LIFETIME_SECONDS

    def usable(self) -> str | None:
        if self.token and self.clock() < self.expires_at - EXPIRY_MARGIN_SECONDS:
            return self.token
        return None

    def set_from_login(self, token: str, expires_in: float | None) -> None:
        self.lifetime = float(expires_in) if expires_in else DEFAULT_LIFETIME_SECONDS
        self._set(token)

    def refresh(self, token: str) -> None:
        """A sliding-window refresh (InvokeAI >= 6.13) keeps the lifetime of the original login."""
        self._set(token)

    def clear(self) -> None:
        self.token = None
        self.expires_at = 0.0

    def _set(self, token: str) -> None:
        self.token = token
        exp = jwt_expiry(token)
        self.expires_at = exp if exp is not None else self.clock() + self.lifetime
