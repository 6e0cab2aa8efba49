/* WASI has no user database: getpwuid always reports "no entry" (jq and the sqlite shell then use $HOME). */
#ifndef SHADOWBOX_WASI_PWD_SHIM_H
#define SHADOWBOX_WASI_PWD_SHIM_H
#include <sys/types.h>
struct passwd { char *pw_name; char *pw_dir; };
static inline unsigned getuid(void) { return 0; }
static inline struct passwd *getpwuid(unsigned uid) { (void)uid; return 0; }
#endif
