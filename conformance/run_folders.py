"""Run folders: each run writes into its own, created fresh (or an empty one given), locked while it runs.

Shared by the ``conformance`` command and the pytest plugin, so ``pytest suites --target FILE``
writes its reports exactly where ``conformance run`` would.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conformance.errors import ConfigError

LOCK_FILE = ".conformance.lock"
"""Inside the run folder, locked for the whole run: two runs never write into one folder."""
WRITABLE = "give a folder you may write to"


def run_name(targets: list[str]) -> str:
    return "reference" if targets == ["reference"] else Path(targets[0]).stem if len(targets) == 1 else "multi"


def fresh_folder(parent: Path, attempts: int = 20) -> Path:
    """A folder no other run has: two runs started in the same second get different suffixes."""
    folder(parent, "--out")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    for _ in range(attempts):
        candidate = parent / f"{stamp}-{unique_suffix()}"
        try:
            candidate.mkdir(parents=True)  # parents: another run may just have tidied an empty parent away
        except FileExistsError:
            continue
        except OSError as exc:
            raise ConfigError(candidate, "--out", f"cannot be created ({exc.strerror})", "give --out DIR") from None
        return probed(candidate, "--out")
    raise ConfigError(parent, "--out", f"no free run folder name in {attempts} attempts", "give --out DIR")


def unique_suffix() -> str:
    return secrets.token_hex(3)


def empty_folder(path: Path) -> Path:
    """``path``, created if absent; an existing file or a folder that holds anything is refused."""
    folder(path, "--out")
    try:
        used = any(path.iterdir())
    except OSError as exc:
        raise ConfigError(path, "--out", f"cannot be listed ({exc.strerror})", "give a folder you may use") from None
    if used:
        fix = "give a new or empty folder: runs never share one, so their results and PKI cannot mix"
        raise ConfigError(path, "--out", "is not empty", fix)
    return probed(path, "--out")


def writable_folder(path: Path, option: str) -> Path:
    """``path``, created if absent, checked before anything is done that would write there."""
    return probed(folder(path, option), option)


def folder(path: Path, option: str) -> Path:
    if path.exists() and not path.is_dir():
        raise ConfigError(path, option, "is not a directory", "give a folder (it is created if absent)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(path, option, f"cannot be created ({exc.strerror})", WRITABLE) from None
    return path


def probed(path: Path, option: str) -> Path:
    """``path`` once a file could be created in it: a read-only folder fails now, not after the cases."""
    try:
        handle, name = tempfile.mkstemp(prefix=".write-probe-", dir=path)
        os.close(handle)
        os.unlink(name)
    except OSError as exc:
        raise ConfigError(path, option, f"is not writable ({exc.strerror})", WRITABLE) from None
    return path


@contextmanager
def exclusive(run_dir: Path) -> Iterator[None]:
    """Hold the run folder's lock for the block; if another run holds it, one ConfigError line."""
    try:
        handle = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise ConfigError(run_dir, "--out", f"cannot hold a lock file ({exc.strerror})", WRITABLE) from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:  # BlockingIOError: held by another run; others: no locks on this file system
            problem = "is in use by another conformance run" if isinstance(exc, BlockingIOError) else "cannot be locked"
            fix = "wait for that run to end, or give another --out DIR"
            raise ConfigError(run_dir, "--out", problem, fix) from None
        yield
    finally:
        os.close(handle)


def remove_if_unused(run_dir: Path) -> None:
    """A run that stopped before writing anything leaves no empty folders behind (``reports/<name>/<stamp>``)."""
    try:
        if [p.name for p in run_dir.iterdir()] == [LOCK_FILE]:
            (run_dir / LOCK_FILE).unlink()
            run_dir.rmdir()
            run_dir.parent.rmdir()  # only if no other run wrote there
    except OSError:
        pass  # only tidying: a folder left behind is harmless
