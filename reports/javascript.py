"""The Vega, Vega-Lite and vega-embed JavaScript, inlined once per page so it renders offline.

``vl_convert.javascript_bundle`` returns the three libraries and their dependencies as one
classic script that sets ``window.vegaEmbed``, ``window.vega`` and ``window.vegaLite``. We
ask for the Vega-Lite version matching altair's schema, so the specs altair writes are
compiled by the library they were written for.
"""

from __future__ import annotations

import functools
import re

import altair as alt
import vl_convert

_SCRIPT_BREAKERS = re.compile(r"<(?=/script|!--)", re.IGNORECASE)


def vega_lite_version() -> str | None:
    """The ``major.minor`` Vega-Lite version of altair's schema, if vl-convert bundles it."""
    match = re.match(r"v?(\d+)\.(\d+)", alt.SCHEMA_VERSION)
    if match is None:
        return None
    wanted = f"{match.group(1)}.{match.group(2)}"
    return wanted if wanted in vl_convert.get_vegalite_versions() else None


@functools.lru_cache(maxsize=1)
def vega_embed_bundle() -> str:
    """The JavaScript that defines ``vegaEmbed`` with no network access (about 0.9 MB).

    Cached: building the bundle takes seconds and its content depends only on the installed
    vl-convert and altair.
    """
    bundle = vl_convert.javascript_bundle(vl_version=vega_lite_version())
    # The bundle is minified JavaScript; "</script" or "<!--" can only occur inside string,
    # template or regular-expression literals, where the escape "\x3C" means "<" as well.
    return _SCRIPT_BREAKERS.sub(r"\\x3C", bundle)


def versions() -> dict[str, str]:
    """The library versions the page embeds, for the report's metadata."""
    return {
        "vega": vl_convert.get_vega_version(),
        "vega-lite": vega_lite_version() or vl_convert.get_vegalite_versions()[-1],
        "vega-embed": vl_convert.get_vega_embed_version(),
    }
