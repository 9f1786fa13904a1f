"""LeRobot datasets on the Hugging Face Hub, by repository id (``lerobot/libero``).

Only the tables and metadata are fetched (``meta/**`` and ``data/**``; videos stay on the
Hub), through ``huggingface_hub.snapshot_download`` and its cache, so a second run reads
the cache. ``HF_HUB_OFFLINE=1`` reads the cache only; an id that is not cached then is a
one-line error saying so. ``OWNER/NAME@REVISION`` pins a branch, tag or commit.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from diffrl_eval.dataset.sources.base import DatasetSource, SourceFrames
from diffrl_eval.dataset.sources.lerobot import read_lerobot
from diffrl_eval.errors import DatasetError
from diffrl_eval.registry import dataset_sources

HUB_FORMAT = "lerobot-hub"
TABLE_PATTERNS = ["meta/**", "data/**"]
_REPO_ID = re.compile(r"^(?:hf://datasets/)?([A-Za-z0-9][\w.-]*/[\w.-]+?)(?:@([\w./-]+))?$")


def parse_repo_id(location: str) -> tuple[str, str | None] | None:
    """``(repo_id, revision)`` for ``OWNER/NAME[@REVISION]`` (or ``hf://datasets/...``)."""
    match = _REPO_ID.match(location)
    return (match[1], match[2]) if match else None


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def download_tables(repo_id: str, revision: str | None) -> Path:
    """The local snapshot of the dataset's tables and metadata (downloaded or cached)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo_id, repo_type="dataset", revision=revision,
                                      allow_patterns=TABLE_PATTERNS))
    except LocalEntryNotFoundError:
        if offline():
            raise DatasetError(f"Hub dataset {repo_id} is not in the local cache and "
                               "HF_HUB_OFFLINE is set (unset it to download)") from None
        raise DatasetError(f"Hub dataset {repo_id}: cannot reach the Hub and it is not in "
                           "the local cache") from None
    except HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        raise DatasetError(f"Hub dataset {repo_id}: the Hub answered "
                           f"{status or type(exc).__name__} (a private or missing "
                           "repository? set HF_TOKEN for private ones)") from None
    except OSError as exc:
        raise DatasetError(f"Hub dataset {repo_id}: download failed ({exc})") from None


@dataset_sources.register(HUB_FORMAT)
class HubSource(DatasetSource):
    """LeRobot dataset on the Hugging Face Hub, OWNER/NAME[@REVISION] (tables only)."""

    @classmethod
    def recognizes(cls, location: str) -> bool:
        # "runs/human" where ./runs exists is a mistyped local path, not a Hub id
        path = Path(location)
        return (not path.exists() and not path.parent.is_dir() or location.startswith("hf://")) \
            and parse_repo_id(location) is not None

    @classmethod
    def read(cls, location: str) -> SourceFrames:
        parsed = parse_repo_id(location)
        if parsed is None:
            raise DatasetError(f"{location!r} is not a Hub dataset id (OWNER/NAME[@REVISION])")
        repo_id, revision = parsed
        root = download_tables(repo_id, revision)
        frames = read_lerobot(root, location=repo_id)
        frames.format = f"{frames.format} (Hub: {repo_id}{'@' + revision if revision else ''})"
        return frames
