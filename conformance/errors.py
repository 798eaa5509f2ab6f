"""The two exception trees of the harness.

A harness problem must never look like a target failure, so what the target did wrong and
what went wrong around it live in separate trees::

    CheckFailed (AssertionError)   the target violated a requirement: its outcome  -> FAIL (WARN for S level)
     └── ShapeViolation            the outcome held, the refusal's form did not    -> judged under the S-level
                                   (status, challenge, ProblemDetails, TLS alert)     shape requirement: WARN
    NotApplicable                  the target declared it lacks the feature         -> N/A
    Inconclusive                   a precondition, positive control or test data    -> INCONCLUSIVE
                                   is missing
    HarnessError                   the harness or its configuration broke           -> ERROR
     ├── ConfigError               a target file or option is wrong (exit status 2 before any test)
     └── PeerError                 a fake peer (EEC, token issuer) could not do its job

Any other exception escaping a test is a harness bug and is reported as ERROR too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Layer = Literal["http", "tls"]


class HarnessError(Exception):
    """The harness, not the target, failed. Reported as ERROR."""


class ConfigError(HarnessError):
    """A configuration problem, rendered as ``FILE: key: what is wrong, how to fix it``."""

    def __init__(self, file: Path | str, key: str, problem: str, fix: str) -> None:
        self.file, self.key, self.problem, self.fix = str(file), key, problem, fix
        super().__init__(f"{self.file}: {key}: {problem}, {fix}")


class PeerError(HarnessError):
    """A fake peer could not be set up (bad key material, unusable TLS context, ...)."""


class NotApplicable(Exception):
    """The target declared it does not implement what this test needs. Reported as N/A."""


class Inconclusive(Exception):
    """The test could not establish its precondition (target down, positive control failed,
    test data the declaration lacks)."""


@dataclass
class CheckFailed(AssertionError):
    """The target violated a requirement: what the spec wants against what the target did.

    ``requirement`` names the one requirement violated when the raiser knows it better than the
    test's marker does (the harness found no token where tokens must be issued: ECS-TOK-01).
    Left empty, the violation counts against the requirements the test cites for its outcome.
    """

    title: str
    expected: str
    actual: str
    requirement: str = ""
    hints: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.title)

    def __str__(self) -> str:
        lines = [self.title, f"  expected: {self.expected}", f"  actual:   {self.actual}"]
        lines.extend(f"  hint: {hint}" for hint in self.hints)
        return "\n".join(lines)


@dataclass
class ShapeViolation(CheckFailed):
    """The security outcome held (the EEC was refused), but not in the form the spec's references
    want. Judged under the S-level requirement that owns the shape of a refusal on ``layer``
    (``requirements.SHAPE_OWNERS``), never under the outcome's M requirement."""

    layer: Layer = "http"
