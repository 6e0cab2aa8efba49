"""Packs CPython's Lib/ (plus shadowbox's own modules) into a normalized zip of bytecode and sources.

    package-stdlib.py CPYTHON_SRC SHADOWBOX_LIB OUT_LIB

Run with /usr/bin/python3.11 (same bytecode magic as the wasm interpreter). Writes:
  OUT_LIB/python311.zip            unchecked-hash .pyc (no mtimes; what imports load) beside each
                                   .py source (what tracebacks and inspect show), sorted entries,
                                   fixed timestamps and permissions -> byte-identical rebuilds
  OUT_LIB/python3.11/os.py         landmark for getpath
  OUT_LIB/python3.11/lib-dynload/  empty
Code objects carry /usr/local/lib/python3.11/<path> as their file name, as an installed Python.
"""

import glob
import importlib._bootstrap_external as bootstrap_external
import importlib.util
import os
import shutil
import sys
import zipfile

src, own_lib, out_lib = sys.argv[1:4]

# Left out: tests, GUI/terminal toolkits, packaging tools, documentation data.
EXCLUDE_DIRS = {
    "test", "tests", "idle_test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3",
    "venv", "pydoc_data", "site-packages", "__phello__", "distutils/command", "msilib",
}
EXCLUDE_FILES = {"turtle.py", "__hello__.py", "_bootsubprocess.py", "this.py", "antigravity.py"}


def excluded(rel):
    parts = rel.split("/")
    for i in range(len(parts) - 1):
        if parts[i] in EXCLUDE_DIRS or "/".join(parts[: i + 1]) in EXCLUDE_DIRS:
            return True
    return parts[-1] in EXCLUDE_FILES


def collect():
    files = {}
    lib = os.path.join(src, "Lib")
    for root, dirs, names in os.walk(lib):
        dirs.sort()
        for name in sorted(names):
            if name.endswith(".py"):
                full = os.path.join(root, name)
                rel = os.path.relpath(full, lib).replace(os.sep, "/")
                if not excluded(rel):
                    files[rel] = full
    sysconfig = glob.glob(os.path.join(src, "build", "build", "lib.*", "_sysconfigdata_*.py"))
    if len(sysconfig) != 1:
        raise SystemExit("package-stdlib: expected one _sysconfigdata_*.py, found %r" % sysconfig)
    files[os.path.basename(sysconfig[0])] = sysconfig[0]
    for name in sorted(os.listdir(own_lib)):
        if name.endswith(".py"):
            files[name] = os.path.join(own_lib, name)
    return files


def pyc(rel, path):
    with open(path, "rb") as f:
        source = f.read()
    code = compile(source, "/usr/local/lib/python3.11/" + rel, "exec", dont_inherit=True)
    data = bootstrap_external._code_to_hash_pyc(code, importlib.util.source_hash(source), False)
    return bytes(data)


def main():
    files = collect()
    os.makedirs(os.path.join(out_lib, "python3.11", "lib-dynload"), exist_ok=True)
    entries = []
    for rel, path in files.items():
        entries.append((rel[:-3] + ".pyc", pyc(rel, path)))
        with open(path, "rb") as f:
            entries.append((rel, f.read()))
    entries.sort()
    with zipfile.ZipFile(os.path.join(out_lib, "python311.zip"), "w") as z:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            z.writestr(info, data, compresslevel=9)
    shutil.copyfile(os.path.join(src, "Lib", "os.py"), os.path.join(out_lib, "python3.11", "os.py"))
    print("package-stdlib: %d modules" % len(files))


main()
