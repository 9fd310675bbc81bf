"""nn._files: temporary files honour the umask (mkstemp's were always 0600)."""

import os
import stat

import pytest

from nn._files import open_temporary


@pytest.mark.parametrize("umask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_open_temporary_mode_is_0666_less_the_umask(tmp_path, umask, expected):
    previous = os.umask(umask)
    try:
        fd, path = open_temporary(tmp_path, ".w-", ".npz")
        os.close(fd)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(path).st_mode) == expected


def test_open_temporary_never_reuses_an_existing_name(tmp_path):
    paths = set()
    for _ in range(50):
        fd, path = open_temporary(tmp_path, ".w-")
        os.close(fd)
        paths.add(path)
    assert len(paths) == 50 and all(os.path.dirname(p) == str(tmp_path) for p in paths)
