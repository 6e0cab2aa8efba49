/* Force-included when compiling sqlite3.c for wasm32-wasi (sqlite 3.40 predates its WASI port).
 * WASI preview1 has no advisory locks: a sandboxed interpreter is the only process that sees its
 * files, so lock requests succeed without doing anything and F_GETLK reports "unlocked". */
#ifndef SHADOWBOX_SQLITE_WASI_SHIM_H
#define SHADOWBOX_SQLITE_WASI_SHIM_H
#include <fcntl.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <sys/types.h>

#define F_RDLCK 0
#define F_WRLCK 1
#define F_UNLCK 2
#define F_GETLK 12
#define F_SETLK 13
#define F_SETLKW 14

/* No owners or permission bits in WASI preview1: accept and ignore. */
static int fchmod(int fd, mode_t mode) { (void)fd; (void)mode; return 0; }
static int fchown(int fd, uid_t uid, gid_t gid) { (void)fd; (void)uid; (void)gid; return 0; }
static uid_t geteuid(void) { return 0; }

static int shadowbox_sqlite_fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  if (cmd == F_GETLK) {
    ((struct flock *)arg)->l_type = F_UNLCK;
    return 0;
  }
  if (cmd == F_SETLK || cmd == F_SETLKW) return 0;
  return fcntl(fd, cmd, (int)(long)arg);
}
#define fcntl shadowbox_sqlite_fcntl
#endif
