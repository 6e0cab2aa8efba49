"""shadowbox's CPython launcher (imported by the C entry point, see runtime/shadowbox_main.c).

initialize() runs once, at build time under Wizer (or at start when not pre-initialized): it
installs the sandbox import hook and imports the modules most scripts use, so the snapshot
already holds them. run(argv) runs once per instance and behaves like the `python3` command
line for the supported options. Everything instance-specific (environment, stdio, cwd, random
seeds, argv, __main__) is set up in run(), never taken from the snapshot.
"""

import sys

PRELOAD = (
    "os", "io", "re", "json", "csv", "collections", "collections.abc", "datetime", "math",
    "itertools", "functools", "operator", "pathlib", "textwrap", "traceback", "decimal",
    "statistics", "fractions", "string", "struct", "base64", "binascii", "hashlib", "zlib",
    "difflib", "typing", "dataclasses", "enum", "copy", "pprint", "heapq", "bisect", "random",
    "time", "codecs", "locale", "linecache", "tokenize", "runpy", "glob", "fnmatch", "shutil",
    "argparse", "atexit", "contextlib", "types", "warnings", "weakref", "abc", "numbers",
    "encodings.utf_8", "encodings.latin_1", "encodings.ascii", "unicodedata", "shlex",
    "_shadowbox", "_shadowbox_sandbox", "shadowbox",
)

USAGE = """usage: python [option] ... [-c cmd | -m mod | file | -] [arg] ...
Options (shadowbox sandbox, CPython 3.11):
-c cmd : program passed in as string
-m mod : run library module as a script
-      : read the program from stdin
-h     : print this help message and exit
-V     : print the Python version number and exit
-u -B -E -I -s -S -q -b -O -d -v -W arg -X opt : accepted; most have no effect here
"""


def initialize():
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    import _shadowbox_sandbox

    _shadowbox_sandbox.install()
    import shadowbox

    shadowbox.install_urllib()
    # Reproducible snapshot: no build-time entropy in it (run() reseeds from the instance).
    import random

    random.seed(0)


def _refresh_instance():
    import io
    import os

    import _shadowbox

    env = _shadowbox.environ()
    data = os.environ._data
    data.clear()
    data.update(env)

    def stream(fd, mode, errors, line_buffering):
        try:
            os.fstat(fd)
        except OSError:
            return None
        raw = io.FileIO(fd, mode, closefd=False)
        buffered = io.BufferedReader(raw) if mode == "rb" else io.BufferedWriter(raw)
        return io.TextIOWrapper(buffered, encoding="utf-8", errors=errors,
                                line_buffering=line_buffering)

    out_tty = False
    try:
        out_tty = os.isatty(1)
    except OSError:
        pass
    sys.stdin = sys.__stdin__ = stream(0, "rb", "surrogateescape", False)
    sys.stdout = sys.__stdout__ = stream(1, "wb", "surrogateescape", out_tty)
    sys.stderr = sys.__stderr__ = stream(2, "wb", "backslashreplace", True)

    cwd = os.environ.get("PWD")
    if cwd:
        try:
            os.chdir(cwd)
        except OSError:
            pass
    if "random" in sys.modules:
        sys.modules["random"].seed()


def _parse(argv):
    """Returns (mode, target, args) with mode in c/m/file/stdin/version/help, or raises ValueError."""
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg == "-" or not arg.startswith("-"):
            break
        if arg == "--":
            i += 1
            break
        if arg in ("--version",):
            return "version", None, []
        if arg in ("--help",):
            return "help", None, []
        j = 1
        while j < len(arg):
            ch = arg[j]
            if ch in "cmWX":
                value = arg[j + 1:]
                if not value:
                    i += 1
                    if i >= len(argv):
                        raise ValueError("Argument expected for the -%s option" % ch)
                    value = argv[i]
                if ch == "c":
                    return "c", value, argv[i + 1:]
                if ch == "m":
                    return "m", value, argv[i + 1:]
                break
            if ch == "V":
                return "version", None, []
            if ch in "h?":
                return "help", None, []
            if ch not in "uBEIsSqbOdvi":
                raise ValueError("Unknown option: -%s" % ch)
            j += 1
        i += 1
    if i >= len(argv) or argv[i] == "-":
        return "stdin", None, argv[i + 1:] if i < len(argv) else []
    return "file", argv[i], argv[i + 1:]


def _exit_code(exc):
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        print(code, file=sys.stderr)
    except Exception:
        pass
    return 1


# Where a workspace keeps pure-Python packages (pip install --target, a copied venv): added to sys.path
# with site.addsitedir (so .pth files work) when they exist.
SITE_DIRS = (".venv/lib/python3.11/site-packages", "site-packages")


def _add_workspace_site():
    import os

    base = os.environ.get("PWD") or "/workspace"
    for rel in SITE_DIRS:
        path = os.path.join(base, rel)
        if os.path.isdir(path) and path not in sys.path:
            import site

            site.addsitedir(path)


def _execute(mode, target, args):
    import builtins
    import os
    import types

    _add_workspace_site()

    main = types.ModuleType("__main__")
    main.__builtins__ = builtins
    sys.modules["__main__"] = main
    if mode == "c":
        sys.argv = ["-c"] + list(args)
        sys.path.insert(0, "")
        source, filename = target, "<string>"
    elif mode == "stdin":
        sys.argv = [""] + list(args)
        sys.path.insert(0, "")
        source, filename = sys.stdin.read(), "<stdin>"
    elif mode == "m":
        import runpy

        if target == "pip" or target.startswith("pip."):
            import _shadowbox_pip

            _shadowbox_pip.prepare(list(args))

        sys.argv = [target] + list(args)
        sys.path.insert(0, os.getcwd())
        runpy._run_module_as_main(target, alter_argv=True)
        return
    else:
        sys.argv = [target] + list(args)
        path = os.path.abspath(target)
        sys.path.insert(0, os.path.dirname(path))
        try:
            with open(path, "rb") as f:
                source = f.read()
        except OSError as e:
            print("python: can't open file %r: [Errno %d] %s" % (target, e.errno, e.strerror),
                  file=sys.stderr)
            raise SystemExit(2)
        filename = target
        main.__file__ = target
    main.__dict__["__cached__"] = None
    code = compile(source, filename, "exec", dont_inherit=True)
    exec(code, main.__dict__)


def _flush():
    for s in (sys.stdout, sys.stderr):
        try:
            if s is not None:
                s.flush()
        except Exception:
            pass


def run(argv):
    _refresh_instance()
    try:
        mode, target, args = _parse(list(argv))
    except ValueError as e:
        print(e, file=sys.stderr)
        print(USAGE, file=sys.stderr, end="")
        _flush()
        return 2
    if mode == "version":
        print("Python %d.%d.%d" % sys.version_info[:3])
        _flush()
        return 0
    if mode == "help":
        print(USAGE, end="")
        _flush()
        return 0

    code = 0
    try:
        _execute(mode, target, args)
    except SystemExit as e:
        code = _exit_code(e)
    except BaseException as e:
        import traceback

        tb = e.__traceback__
        # Hide the launcher's own frames: the traceback starts in the user's code.
        while tb is not None and tb.tb_frame.f_code.co_filename == _HERE:
            tb = tb.tb_next
        import _shadowbox_sandbox

        _shadowbox_sandbox.explain(e)
        traceback.print_exception(type(e), e, tb)
        code = 130 if isinstance(e, KeyboardInterrupt) else 1
    try:
        import atexit

        atexit._run_exitfuncs()
    except SystemExit as e:
        code = _exit_code(e)
    except BaseException:
        pass
    _flush()
    return code


_HERE = run.__code__.co_filename
