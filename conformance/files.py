"""Reading the files a run is given (declarations, PEM and JSON files, harness material), safely.

Only regular files, at most :data:`MAX_FILE_BYTES`, never a blocking open: a FIFO or /dev/zero
named as a target must end in one clear line, not a hang. Problems are :class:`Invalid` (what is
wrong, how to fix it); the caller adds the file and the key it was named by. Used by the target
loader and by the peers, which is why it sits in neither.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Final

MAX_FILE_BYTES: Final = 1024 * 1024
"""The most read from any file a run is given: declarations, PEM and JSON files are a few KiB."""


class Invalid(Exception):
    """A value check failed: what is wrong and how to fix it; the caller adds file and key."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.problem, self.fix = problem, fix


class Missing(Invalid):
    """A file that does not exist: the caller knows best where it was looked for."""


class BadPassphrase(Invalid):
    """The key is fine but the passphrase setting is not: given for a plain key, or wrong."""


_FILE_KINDS: Final = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def read_regular_file(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes.

    A FIFO would block the open and a device like /dev/zero never ends, so the file kind is
    checked before opening; the open is non-blocking and the kind checked again on the
    descriptor, in case the path was swapped in between.
    """
    try:
        _require_regular(os.stat(path).st_mode)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise Missing("does not exist", "check the path") from None
    except OSError as exc:
        raise Invalid(f"cannot be read ({exc.strerror})", "make it readable") from None
    with os.fdopen(fd, "rb") as handle:
        _require_regular(os.fstat(fd).st_mode)
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise Invalid(f"cannot be read ({exc.strerror})", "make it readable") from None
    if len(data) > limit:
        fix = "give the right file: declarations, PEM and JSON files are a few KiB"
        raise Invalid(f"is larger than {limit // 1024} KiB", fix)
    return data


def _require_regular(mode: int) -> None:
    if not stat.S_ISREG(mode):
        kind = _FILE_KINDS.get(stat.S_IFMT(mode), "not a regular file")
        raise Invalid(f"is {kind}, not a regular file", "give the path of a regular file")
