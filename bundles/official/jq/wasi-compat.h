/* Forced include for jq on WASI: realpath does not exist (no absolute paths); jq keeps the path as given. */
#include <stddef.h>
static inline char *realpath(const char *path, char *resolved) { (void)path; (void)resolved; return NULL; }
