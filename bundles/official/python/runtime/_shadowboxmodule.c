/* _shadowbox: the few host facilities shadowbox's CPython needs, compiled into the interpreter.
 *
 *  net_fetch(request: bytes, capacity: int) -> (int, bytes, bytes)
 *      Calls the host import `shadowbox.net_fetch(req_ptr, req_len, out_ptr, out_cap, meta_ptr)`
 *      synchronously. Returns (host return code, the first min(n, capacity) output bytes, the
 *      16-byte meta block). The request/response encoding lives in Lib `shadowbox.py`, so the
 *      C side stays a pass-through and never parses anything the host sends.
 *  environ() -> dict[bytes, bytes]
 *      This instance's environment (a pre-initialized snapshot saw the build-time one).
 */
#define PY_SSIZE_T_CLEAN
#include "Python.h"

#include <stdint.h>
#include <string.h>
#include <wasi/libc-environ.h>

__attribute__((import_module("shadowbox"), import_name("net_fetch")))
int32_t shadowbox_host_net_fetch(const uint8_t *req, uint32_t req_len, uint8_t *out, uint32_t out_cap,
                                 uint8_t *meta);

#define META_SIZE 16
#define MAX_CAPACITY (64u * 1024u * 1024u)

static PyObject *sb_net_fetch(PyObject *self, PyObject *args) {
    Py_buffer req;
    Py_ssize_t capacity;
    if (!PyArg_ParseTuple(args, "y*n:net_fetch", &req, &capacity)) {
        return NULL;
    }
    if (capacity < 0 || (size_t)capacity > MAX_CAPACITY) {
        PyBuffer_Release(&req);
        PyErr_SetString(PyExc_ValueError, "capacity out of range");
        return NULL;
    }
    uint8_t *out = PyMem_RawMalloc(capacity > 0 ? (size_t)capacity : 1);
    if (out == NULL) {
        PyBuffer_Release(&req);
        return PyErr_NoMemory();
    }
    uint8_t meta[META_SIZE];
    memset(meta, 0, sizeof meta);
    int32_t rc = shadowbox_host_net_fetch(req.buf, (uint32_t)req.len, out, (uint32_t)capacity, meta);
    PyBuffer_Release(&req);
    Py_ssize_t n = rc > 0 ? (rc < capacity ? rc : capacity) : 0;
    PyObject *result = Py_BuildValue("(iy#y#)", (int)rc, (const char *)out, n, (const char *)meta,
                                     (Py_ssize_t)META_SIZE);
    PyMem_RawFree(out);
    return result;
}

static PyObject *sb_environ(PyObject *self, PyObject *unused) {
    PyObject *d = PyDict_New();
    if (d == NULL) return NULL;
    char **env = __wasilibc_get_environ();
    for (; env != NULL && *env != NULL; env++) {
        const char *eq = strchr(*env, '=');
        if (eq == NULL || eq == *env) continue;
        PyObject *k = PyBytes_FromStringAndSize(*env, eq - *env);
        PyObject *v = PyBytes_FromString(eq + 1);
        if (k == NULL || v == NULL || PyDict_SetItem(d, k, v) < 0) {
            Py_XDECREF(k);
            Py_XDECREF(v);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(k);
        Py_DECREF(v);
    }
    return d;
}

static PyMethodDef sb_methods[] = {
    {"net_fetch", sb_net_fetch, METH_VARARGS, "Call the host's net_fetch import (raw bytes)."},
    {"environ", sb_environ, METH_NOARGS, "This instance's environment as a dict of bytes."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef sb_module = {
    PyModuleDef_HEAD_INIT, "_shadowbox", "shadowbox host facilities", -1, sb_methods,
};

PyMODINIT_FUNC PyInit__shadowbox(void) {
    return PyModule_Create(&sb_module);
}
