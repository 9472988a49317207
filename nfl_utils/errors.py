"""The project's error classes, and how a command line shows them.

``NflError`` is every error the companion raises on purpose (bad config or argument, missing or
wrong data, a damaged run): a command line prints it as one line. Anything else is a bug and keeps
its full traceback. ``InputError`` is also a ``ValueError``, so ``except ValueError`` still works.
"""
from __future__ import annotations

import errno

DIR_HINT = "set NFL_RUNS_DIR / NFL_CACHE_DIR to a writable folder with room"


class NflError(Exception):
    """An error the companion raises on purpose; its message says what to do."""


class InputError(NflError, ValueError):
    """A bad value: a config field, an argument, an array of the wrong shape or type."""


def user_errors() -> tuple:
    """What a command line shows as one line: the project's errors and the machine's (a missing
    file, a full disk, a read-only folder). Everything else is a bug: full traceback."""
    return (NflError, OSError)


def one_line(e: BaseException) -> str:
    """``error: ...`` for a user error, with a hint for the machine's own (disk full, read-only)."""
    if isinstance(e, OSError) and not isinstance(e, NflError):
        where = f" ({e.filename})" if getattr(e, "filename", None) else ""
        if e.errno == errno.ENOSPC:
            return f"error: no space left on the device{where}; free some or {DIR_HINT}"
        if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return f"error: cannot write{where}: {e.strerror}; {DIR_HINT}"
        if e.errno in (errno.ENOTDIR, errno.EEXIST, errno.EISDIR):
            return f"error: {e.strerror}{where}: a file stands where a folder is needed; {DIR_HINT}"
    return f"error: {e}"
