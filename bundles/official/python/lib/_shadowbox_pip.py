"""Makes `python -m pip` work in the sandbox with the pip CPython ships (Lib/ensurepip's wheel).

Only wheels from a local folder can be installed (`pip install --no-index --find-links DIR PKG`):
there is no network for an index, no subprocess to build sdists. Packages go to the workspace's
`.venv/lib/python3.11/site-packages` (on sys.path for every run), so they land in the shadow
workspace for review like any other file. prepare() is called by the launcher before running a
`pip` module and changes nothing for other programs.
"""

import errno
import os
import sys
import types

WHEEL = "/usr/local/lib/python3.11/pip-22.3.1-py3-none-any.whl"
SITE = ".venv/lib/python3.11/site-packages"


def _mmap_stub():
    # pip's vendored cachecontrol imports mmap at module level and uses it only for its HTTP cache,
    # which a --no-index install never touches; the module is not in the sandbox.
    m = types.ModuleType("mmap")

    class mmap:  # noqa: N801 - the real name
        def __init__(self, *args, **kwargs):
            raise OSError(errno.ENOSYS, "mmap is not available in the sandbox (no memory mapping in WASI)")

    m.mmap = mmap
    m.ACCESS_DEFAULT, m.ACCESS_READ, m.ACCESS_WRITE, m.ACCESS_COPY = 0, 1, 2, 3
    m.PAGESIZE = m.ALLOCATIONGRANULARITY = 65536
    return m


def prepare(args):
    if WHEEL not in sys.path:
        sys.path.append(WHEEL)
    sys.modules.setdefault("mmap", _mmap_stub())
    if not hasattr(os, "umask"):
        # WASI has no umask; pip asks it for the mode of files it writes (modes do not reach the guest anyway).
        current = [0o022]

        def umask(mask):
            old, current[0] = current[0], mask
            return old

        os.umask = umask
    env = os.environ
    env.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    env.setdefault("PIP_NO_INPUT", "1")
    # No __pycache__ in the reviewed changes: --compile off (pip reads PIP_NO_COMPILE=1 as "compile").
    env.setdefault("PIP_COMPILE", "0")
    if args[:1] == ["install"] and not any(
        a in ("--target", "-t", "--prefix", "--root", "--user") or a.startswith(("--target=", "--prefix=", "--root="))
        for a in args
    ):
        env.setdefault("PIP_TARGET", os.path.join(os.getcwd(), SITE))
