"""Putting untrusted text into the page: HTML text/attributes and JSON inside ``<script>``.

Source labels, instructions, task ids and metadata come from files the user (or someone
else) wrote; none of them may turn into markup or script. Everything that reaches the
page goes through one of these two functions.
"""

from __future__ import annotations

import html
import json
from typing import Any

# Inside a <script> element the HTML tokenizer ends the script at "</script" and changes
# state at "<!--", whatever the JavaScript meant. JSON allows "\u003c" for "<" (and "\/"
# for "/"), so replacing the characters that can start such sequences keeps the value
# identical for JSON.parse while no tag can ever form. "&" and ">" are escaped as well so
# the text is inert even if someone moves it into an HTML context.
_SCRIPT_JSON_ESCAPES = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    ord("\u2028"): "\\u2028",
    ord("\u2029"): "\\u2029",
}


def text(value: Any) -> str:
    """``value`` as HTML text or a quoted attribute value (quotes escaped too)."""
    return html.escape(str(value), quote=True)


def script_json(value: Any) -> str:
    """``value`` as JSON that is safe inside ``<script type="application/json">``."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False).translate(_SCRIPT_JSON_ESCAPES)
