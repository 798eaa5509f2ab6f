"""The strict form of a GPSI, as the harness judges it (TS 29.571 ``Gpsi``, TS 23.003 clause 19.7.2).

``msisdn-<5 to 15 digits>`` or ``extid-<local>@<domain>``. The 3GPP schema pattern ends in
``|.+``, so it accepts any non-empty string; the declaration loader and the checks use this one.
(The reference servers keep their own copy on purpose: see ``conformance/reference/__init__.py``.)
"""

from __future__ import annotations

import re
from typing import Final

PATTERN: Final = r"msisdn-[0-9]{5,15}|extid-[^@]+@[^@]+"
_STRICT: Final = re.compile(PATTERN)


def is_well_formed(value: object) -> bool:
    """Whether ``value`` is a GPSI in the strict form (``fullmatch``: no trailing newline slips by)."""
    return isinstance(value, str) and _STRICT.fullmatch(value) is not None
