"""Per-task drill-down and episode clips.

Clips come as descriptors (``results/clips.json`` of a `compare` run)::

    {"source": "human", "task": "...", "kind": "data" | "VLA rollout",
     "success": true | false | null, "path": "clips/human-task-0.webp"}

where ``path`` is a clip file (animated WebP or GIF shown as an image; MP4 or WebM as a
video) relative to the directory the descriptors were read from, or absolute. The bytes are
inlined (base64), so the page stays one self-contained file.

Each task gets a folded ``<details>`` block: its data-quality numbers and VLA success per
source, and its clips.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from diffrl_eval.clip import MIME_TYPES
from diffrl_eval.errors import UserError
from reports import escaping
from reports.sources import Source
from reports.tables import format_number

CLIPS_ID = "episode-clips"
TASKS_ID = "per-task-drilldown"
CLIP_CLASS = "clip"

STYLE = """
.clips { display: flex; flex-wrap: wrap; gap: 0.6rem; margin: 0.5rem 0; }
.clips figure { margin: 0; width: 160px; font-size: 0.78rem; color: #444; }
.clips img, .clips video { width: 160px; height: 160px; image-rendering: auto;
                           border: 1px solid #ccc; background: #f4f4f6; }
details.task { border-bottom: 1px solid #eee; padding: 0.2rem 0; margin: 0; }
details.task > summary { font-weight: 600; }
"""


def load_clip(clip: Mapping[str, Any], base: Path | None) -> tuple[str, str]:
    """The clip's MIME type and base64 text; a missing or unknown file is a UserError."""
    path = Path(clip["path"])
    if not path.is_absolute() and base is not None:
        path = base / path
    mime = MIME_TYPES.get(path.suffix.lower())
    if mime is None:
        raise UserError(f"clip {path}: unknown clip format; valid choices: "
                        f"{', '.join(sorted(MIME_TYPES))}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"clip {path} cannot be read: {exc.strerror}") from None
    return mime, base64.b64encode(data).decode("ascii")


def _outcome(success: Any) -> str:
    return {True: "success", False: "failure"}.get(success, "")


def clip_html(clip: Mapping[str, Any], base: Path | None) -> str:
    mime, data = load_clip(clip, base)
    caption = " · ".join(part for part in (clip["source"], clip["kind"],
                                           _outcome(clip.get("success"))) if part)
    source = f"data:{mime};base64,{data}"
    if mime.startswith("video/"):
        media = (f'<video class="{CLIP_CLASS}" src="{source}" muted loop autoplay '
                 'playsinline></video>')
    else:
        media = f'<img class="{CLIP_CLASS}" src="{source}" alt="{escaping.text(caption)}">'
    return f"<figure>{media}<figcaption>{escaping.text(caption)}</figcaption></figure>"


def clips_html(clips: Sequence[Mapping[str, Any]], base: Path | None) -> str:
    return f'<div class="clips">{"".join(clip_html(c, base) for c in clips)}</div>'


def _vla_success(runs: Sequence[Mapping[str, Any]], task: str) -> dict[str, str]:
    """Per training label: the task's VLA successes pooled over seeds and protocols."""
    pooled: dict[str, list[int]] = {}
    for run in runs:
        summary = run.get("per_task", {}).get(task)
        if summary is None:
            continue
        label = "+".join(run["training"]["sources"])
        counts = pooled.setdefault(label, [0, 0])
        counts[0] += int(summary["successes"])
        counts[1] += int(summary["episodes"])
    return {label: f"{s}/{n} ({s / n:.0%})" for label, (s, n) in pooled.items() if n}


def _task_rows(sources: Sequence[Source], runs: Sequence[Mapping[str, Any]], task: str
               ) -> list[list[str]]:
    vla = _vla_success(runs, task)
    rows = []
    for source in sources:
        summary = source.result.get("per_task", {}).get(task)
        if summary is None:
            continue
        success = summary["success"]
        rows.append([source.dataset["source"], f"{success['successes']}/{success['episodes']}",
                     format_number(summary["trajectory_length"].get("mean")),
                     f"{100 * summary['no_op_fraction']:.1f}%",
                     format_number(summary["mean_squared_jerk"].get("mean")),
                     vla.pop(source.dataset["source"], "—")])
    rows += [[label, "—", "—", "—", "—", value] for label, value in vla.items()]
    return rows


def task_order(sources: Sequence[Source], runs: Sequence[Mapping[str, Any]]) -> list[str]:
    return list(dict.fromkeys(
        [t for s in sources for t in s.result.get("per_task", {})]
        + [t for r in runs for t in r.get("per_task", {})]))


def drilldown_html(sources: Sequence[Source], runs: Sequence[Mapping[str, Any]],
                   clips: Sequence[Mapping[str, Any]], base: Path | None) -> str:
    """One folded block per task: its numbers per source, and its clips."""
    columns = ("source / training data", "data success", "steps to success",
               "no-op steps", "mean squared jerk", "VLA success on this task")
    blocks = []
    for task in task_order(sources, runs):
        instruction = next((s.result["per_task"][task].get("instruction", "") for s in sources
                            if task in s.result.get("per_task", {})), "")
        rows = _task_rows(sources, runs, task)
        table = ("<table><thead><tr>" + "".join(f"<th>{c}</th>" for c in columns)
                 + "</tr></thead><tbody>"
                 + "".join("<tr>" + "".join(f"<td>{escaping.text(c)}</td>" for c in row)
                           + "</tr>" for row in rows) + "</tbody></table>")
        own = [c for c in clips if c["task"] == task]
        blocks.append(
            f'<details class="task"><summary>{escaping.text(task)}'
            f'{": " + escaping.text(instruction) if instruction else ""}</summary>'
            f"{table}{clips_html(own, base) if own else ''}</details>")
    return f'<div id="{TASKS_ID}">{"".join(blocks)}</div>'
