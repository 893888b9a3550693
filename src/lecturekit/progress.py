"""The one progress helper: silent unless ``LECTUREKIT_PROGRESS=1``.

Library code never prints. Long work (training an encoder) reports through
:func:`report`, which writes to stderr only when asked, so book builds and nbval
comparisons see no progress output.
"""

from __future__ import annotations

import sys

from lecturekit.profile import flag


def enabled() -> bool:
    """Whether progress messages are shown (``LECTUREKIT_PROGRESS=1``).

    >>> isinstance(enabled(), bool)
    True
    """
    return flag("LECTUREKIT_PROGRESS")


def report(message: str) -> None:
    """Write one progress line to stderr if progress is enabled.

    >>> report("training digits-ssl: epoch 1/40")
    """
    if enabled():
        print(f"[lecturekit] {message}", file=sys.stderr, flush=True)
