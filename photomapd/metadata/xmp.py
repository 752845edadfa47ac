"""Pull the few XMP properties generators use, with regular expressions rather than an XML parser.

XMP here is untrusted input; a regex cannot be made to expand entities or fetch anything.
"""

from __future__ import annotations

import html
import re

# <ns:Name>...</ns:Name> where the value may be wrapped in rdf:Alt/rdf:li.
_ELEMENT = r"<{name}(?:\s[^>]*)?>(.*?)</{name}>"
_ATTRIBUTE = r"""\s{name}\s*=\s*(?:"([^"]*)"|'([^']*)')"""
_LI = re.compile(r"<rdf:li(?:\s[^>]*)?>(.*?)</rdf:li>", re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
MAX_XMP = 4_000_000


def xmp_property(xmp: str, name: str) -> str | None:
    """Value of `name` (e.g. "exif:UserComment") as an element or an attribute, unescaped."""
    xmp = xmp[:MAX_XMP]
    escaped = re.escape(name)
    element = re.search(_ELEMENT.format(name=escaped), xmp, re.DOTALL)
    if element:
        inner = element.group(1)
        item = _LI.search(inner)
        value = item.group(1) if item else _TAG.sub("", inner)
        return html.unescape(value.strip())
    attribute = re.search(_ATTRIBUTE.format(name=escaped), xmp)
    if attribute:
        return html.unescape(attribute.group(1) or attribute.group(2) or "")
    return None
