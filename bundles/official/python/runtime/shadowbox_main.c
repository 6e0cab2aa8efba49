/* shadowbox's CPython entry point for wasm32-wasi; replaces Programs/python.c in the build.
 *
 * Two ways to start:
 *  - plain: `_start` -> main(): initialize the interpreter, then run argv like `python3` would.
 *  - pre-initialized: the build calls the `wizer.initialize` export under Wizer, which initializes
 *    the interpreter and imports the common modules; Wizer snapshots linear memory into a new
 *    module. Running that module's `_start` finds `initialized == 1` and goes straight to running
 *    the request: no interpreter start-up, no stdlib imports.
 *
 * Everything that depends on the instance (argv, environment, preopened directories, stdio,
 * random seeds, cwd) is re-read at run time, in `_shadowbox_boot.run` and in the wasi-libc
 * constructors that run again at `_start` (see patches/wasi-libc-rescan-preopens.patch).
 */
#include "Python.h"

#include <stdlib.h>
#include <wasi/libc-environ.h>

static int initialized = 0;
static PyObject *boot_module = NULL;

static void fatal_status(PyStatus status) {
    Py_ExitStatusException(status);
}

static void initialize(void) {
    PyStatus status;
    PyConfig config;
    PyConfig_InitIsolatedConfig(&config);
    config.home = NULL;
    config.write_bytecode = 0;
    config.site_import = 0;
    config.user_site_directory = 0;
    config.install_signal_handlers = 0;
    config.pathconfig_warnings = 0;
    config.use_hash_seed = 1;
    config.hash_seed = 0;
    config.buffered_stdio = 1;
    config.safe_path = 1;

    status = PyConfig_SetString(&config, &config.home, L"/usr/local");
    if (PyStatus_Exception(status)) goto fail;
    status = PyConfig_SetString(&config, &config.program_name, L"python3");
    if (PyStatus_Exception(status)) goto fail;
    status = PyConfig_SetString(&config, &config.executable, L"/usr/local/bin/python3");
    if (PyStatus_Exception(status)) goto fail;
    status = PyConfig_SetString(&config, &config.stdio_encoding, L"utf-8");
    if (PyStatus_Exception(status)) goto fail;
    status = PyConfig_SetString(&config, &config.filesystem_encoding, L"utf-8");
    if (PyStatus_Exception(status)) goto fail;
    config.module_search_paths_set = 1;
    status = PyWideStringList_Append(&config.module_search_paths, L"/usr/local/lib/python311.zip");
    if (PyStatus_Exception(status)) goto fail;
    status = PyWideStringList_Append(&config.module_search_paths, L"/usr/local/lib/python3.11");
    if (PyStatus_Exception(status)) goto fail;
    status = PyWideStringList_Append(&config.module_search_paths, L"/usr/local/lib/python3.11/lib-dynload");
    if (PyStatus_Exception(status)) goto fail;

    status = Py_InitializeFromConfig(&config);
    if (PyStatus_Exception(status)) goto fail;
    PyConfig_Clear(&config);

    boot_module = PyImport_ImportModule("_shadowbox_boot");
    if (boot_module == NULL) {
        PyErr_Print();
        exit(70);
    }
    PyObject *r = PyObject_CallMethod(boot_module, "initialize", NULL);
    if (r == NULL) {
        PyErr_Print();
        exit(70);
    }
    Py_DECREF(r);
    initialized = 1;
    return;
fail:
    PyConfig_Clear(&config);
    fatal_status(status);
}

/* Called once by Wizer at build time; the resulting memory is the snapshot. */
__attribute__((export_name("wizer.initialize")))
void shadowbox_wizer_initialize(void) {
    initialize();
}

int main(int argc, char **argv) {
    if (!initialized) {
        initialize();
    } else {
        /* The snapshot holds the (empty) build-time environment: read this instance's. */
        __wasilibc_deinitialize_environ();
        __wasilibc_initialize_environ();
    }
    PyObject *args = PyList_New(0);
    if (args == NULL) {
        PyErr_Print();
        return 70;
    }
    for (int i = 0; i < argc; i++) {
        PyObject *s = PyUnicode_DecodeFSDefault(argv[i]);
        if (s == NULL || PyList_Append(args, s) < 0) {
            PyErr_Print();
            return 70;
        }
        Py_DECREF(s);
    }
    PyObject *r = PyObject_CallMethod(boot_module, "run", "O", args);
    Py_DECREF(args);
    if (r == NULL) {
        PyErr_Print();
        return 70;
    }
    long code = PyLong_AsLong(r);
    Py_DECREF(r);
    /* No Py_Finalize: the instance is discarded after one run. _shadowbox_boot.run flushed stdio
     * and ran atexit handlers already. */
    return (int)code;
}
