"""Taking the InvokeAI password and bearer tokens out of text that came from InvokeAI.

A server (or a proxy or debugging middleware in front of it) may repeat the request in its error
answers: the login body with the password, the Authorization header with the token. That text
becomes our error messages, which reach the API, the settings panel and the log, so it is
scrubbed first, in each spelling a server may echo it: as sent, JSON-escaped, URL-encoded and
HTML-escaped.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

MASK = "[redacted]"


def spellings(secret: str) -> set[str]:
    """The ways `secret` can appear in an echoed request or in a page about it."""
    found = {
        secret,
        json.dumps(secret)[1:-1],  # \" and \\ escaped, non-ASCII as \uXXXX (aiohttp's default)
        json.dumps(secret, ensure_ascii=False)[1:-1],
        html.escape(secret),
    }
    for encoded in (quote(secret, safe=""), quote_plus(secret, safe="")):
        found |= {encoded, re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), encoded)}
    return {text for text in found if text}


@dataclass(frozen=True)
class Redactor:
    """Replaces the given secrets in text with MASK; empty secrets are ignored."""

    secrets: tuple[str | None, ...] = ()

    def __call__(self, text: str) -> str:
        forms = set().union(*(spellings(secret) for secret in self.secrets if secret))
        # Longest first: a spelling may contain a shorter one (the raw text inside its escapes).
        for form in sorted(forms, key=len, reverse=True):
            text = text.replace(form, MASK)
        return text
