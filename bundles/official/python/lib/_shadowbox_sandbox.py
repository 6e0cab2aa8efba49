"""Turns the sandbox's missing capabilities into clear errors.

A meta-path finder placed last on sys.meta_path: it only sees imports every real finder already
failed, and for modules this build leaves out it raises ModuleNotFoundError with a message that
says the module is not available in the sandbox and why (still an ImportError, so
`try: import x except ImportError` keeps working). Other unknown modules keep the standard
"No module named" error (importlib.util.find_spec must still return None for them); the launcher
rewrites that message when such an error ends the program (see explain()).
Process-spawning functions of `os` raise OSError with the same kind of message.
"""

import errno
import os
import sys

# Internal module -> (name the user imported, reason)
KNOWN_MISSING = {
    "_socket": ("socket", "no network sockets; use shadowbox.fetch or urllib.request.urlopen"),
    "socket": ("socket", "no network sockets; use shadowbox.fetch or urllib.request.urlopen"),
    "select": ("select", "no sockets or pipes to wait on"),
    "_ssl": ("ssl", "no TLS library; use shadowbox.fetch or urllib.request.urlopen"),
    "ssl": ("ssl", "no TLS library; use shadowbox.fetch or urllib.request.urlopen"),
    "_ctypes": ("ctypes", "no native code can be loaded"),
    "_posixsubprocess": ("subprocess", "no processes can be started"),
    "_multiprocessing": ("multiprocessing", "no processes can be started"),
    "_posixshmem": ("multiprocessing.shared_memory", "no shared memory"),
    "_curses": ("curses", "no terminal"),
    "_curses_panel": ("curses.panel", "no terminal"),
    "readline": ("readline", "no terminal"),
    "termios": ("termios", "no terminal"),
    "_tkinter": ("tkinter", "no display"),
    "tkinter": ("tkinter", "no display"),
    "turtle": ("turtle", "no display"),
    "idlelib": ("idlelib", "no display"),
    "turtledemo": ("turtledemo", "no display"),
    "ensurepip": ("ensurepip", "packages cannot be installed"),
    "venv": ("venv", "no processes; packages cannot be installed"),
    "lib2to3": ("lib2to3", "left out of the sandbox build"),
    "pydoc_data": ("pydoc_data", "left out of the sandbox build"),
    "_dbm": ("dbm.ndbm", "not built"),
    "_gdbm": ("dbm.gnu", "not built"),
    "fcntl": ("fcntl", "no file locking in WASI"),
    "mmap": ("mmap", "no memory mapping in WASI"),
    "pwd": ("pwd", "no user database"),
    "grp": ("grp", "no group database"),
    "resource": ("resource", "no resource limits API"),
    "syslog": ("syslog", "no system log"),
    "_uuid": ("_uuid", "not built (uuid works without it)"),
    "_hashlib": ("_hashlib", "no OpenSSL (hashlib uses its built-in algorithms)"),
}

# execl*, execvp* are os.py wrappers over execv/execve, which validate their arguments as CPython does
# before refusing (see _execv below).
PROCESS_FUNCTIONS = (
    "system", "popen", "fork", "forkpty", "spawnv", "spawnve", "spawnl", "spawnle", "spawnlp",
    "spawnlpe", "spawnvp", "spawnvpe", "posix_spawn", "posix_spawnp", "kill", "killpg",
)


def message(name):
    if name in KNOWN_MISSING:
        public, reason = KNOWN_MISSING[name]
        return "module %r is not available in the sandbox (%s)" % (public, reason)
    return ("module %r is not available in the sandbox (only the Python standard library is "
            "installed; third-party packages cannot be installed)" % name)


class SandboxMissingFinder:
    """Last finder on sys.meta_path: explains why a module cannot be imported."""

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if fullname in KNOWN_MISSING:
            raise ModuleNotFoundError(message(fullname), name=fullname)
        return None

    @classmethod
    def invalidate_caches(cls):
        pass


def explain(exc):
    """Rewrites an uncaught "No module named X" into the sandbox message (top-level modules)."""
    name = getattr(exc, "name", None)
    if isinstance(exc, ModuleNotFoundError) and name and "sandbox" not in str(exc):
        exc.msg = message(name.partition(".")[0])
        exc.args = (exc.msg,)


def _unavailable(name):
    def refuse(*args, **kwargs):
        raise OSError(errno.ENOSYS, "os.%s is not available in the sandbox (no processes)" % name)

    refuse.__name__ = name
    return refuse


def _check_argv(name, argv):
    if not isinstance(argv, (tuple, list)):
        raise TypeError("%s: argv must be a tuple or list" % name)
    if not argv:
        raise ValueError("%s: argv must not be empty" % name)
    args = [os.fsencode(a) for a in argv]
    if not args[0]:
        raise ValueError("%s: argv first element cannot be empty" % name)
    if any(b"\0" in a for a in args):
        raise ValueError("embedded null byte")


def _execv(path, argv):
    """os.execv: the argument checks of CPython's, then the sandbox's refusal."""
    os.fspath(path)
    _check_argv("execv", argv)
    raise OSError(errno.ENOSYS, "os.execv is not available in the sandbox (no processes)")


def _execve(path, argv, env):
    """os.execve: the argument checks of CPython's, then the sandbox's refusal."""
    if not isinstance(path, int):
        os.fspath(path)
    _check_argv("execve", argv)
    if not hasattr(env, "keys"):
        raise TypeError("execve: environment must be a mapping object")
    for key, value in env.items():
        k, v = os.fsencode(key), os.fsencode(value)
        if b"\0" in k or b"\0" in v:
            raise ValueError("embedded null byte")
        if not k or b"=" in k:
            raise ValueError("illegal environment variable name")
    raise OSError(errno.ENOSYS, "os.execve is not available in the sandbox (no processes)")


def _refuse_popen(self, *args, **kwargs):
    raise OSError(errno.ENOSYS, "subprocess is not available in the sandbox (no processes can be started)")


def install():
    if SandboxMissingFinder not in sys.meta_path:
        sys.meta_path.append(SandboxMissingFinder)
    for name in PROCESS_FUNCTIONS:
        setattr(os, name, _unavailable(name))
    os.execv = _execv
    os.execve = _execve
    # subprocess imports fine on WASI (it only fails when starting a process): make that failure
    # say why. subprocess.run/call/check_output all go through Popen.
    import subprocess

    subprocess.Popen.__init__ = _refuse_popen
