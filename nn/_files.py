"""Writing files the way a user's own programs do: temporary files whose mode honours the umask.

`tempfile.mkstemp` creates files with mode 0600 whatever the umask, so weights and downloads renamed
into place from one were readable by their owner only. `open_temporary` creates them with 0666 and lets
the kernel apply the umask, as `open(path, "w")` does; nothing here changes the process's umask.
"""

from __future__ import annotations

import os
import secrets

__all__ = ["open_temporary"]


def open_temporary(directory, prefix: str = ".tmp-", suffix: str = "") -> tuple[int, str]:
    """Create a new, empty file in ``directory`` and return ``(file descriptor, path)``, as mkstemp does.

    The name is ``prefix``, 12 random hex digits and ``suffix``; the file is created exclusively, so an
    existing file is never opened. Its mode is 0666 less the process's umask.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     fd, path = open_temporary(folder, ".weights-", ".npz")
    ...     os.close(fd)
    ...     os.path.basename(path).startswith(".weights-"), path.endswith(".npz")
    (True, True)
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        path = os.path.join(os.fspath(directory), f"{prefix}{secrets.token_hex(6)}{suffix}")
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(f"open_temporary: no free name for {prefix}*{suffix} in {directory} after 100 tries")
