"""Writing a report file: atomically, so a reader (or a crash) never leaves half a report."""

from __future__ import annotations

import os
from pathlib import Path


def write_text_atomically(text: str, path: str | Path) -> Path:
    """Write ``text`` (UTF-8) to ``path``, creating its directory; the file appears whole or not at all."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        tmp.write_text(text, "utf-8")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target
