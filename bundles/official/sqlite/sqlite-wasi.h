/* Forced include for SQLite 3.40 on WASI preview 1 (no file locks, owners or modes). One process owns a
 * database at a time inside the sandbox, so locks are no-ops, like SQLite's "unix-none" VFS. */
#ifndef SHADOWBOX_SQLITE_WASI_H
#define SHADOWBOX_SQLITE_WASI_H
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#ifndef F_RDLCK
#define F_RDLCK 0
#define F_WRLCK 1
#define F_UNLCK 2
#endif
#ifndef F_GETLK
#define F_GETLK 5
#define F_SETLK 6
#define F_SETLKW 7
#endif
static inline int chmod(const char *path, mode_t mode) { (void)path; (void)mode; return 0; }
static inline int fchmod(int fd, mode_t mode) { (void)fd; (void)mode; return 0; }
static inline int fchown(int fd, uid_t uid, gid_t gid) { (void)fd; (void)uid; (void)gid; return 0; }
static inline uid_t geteuid(void) { return 0; }
static int shadowbox_fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  if (cmd == F_GETLK) { struct flock *l = va_arg(ap, struct flock *); l->l_type = F_UNLCK; va_end(ap); return 0; }
  if (cmd == F_SETLK || cmd == F_SETLKW) { va_end(ap); return 0; }
  int arg = va_arg(ap, int);
  va_end(ap);
  return fcntl(fd, cmd, arg);
}
#define fcntl shadowbox_fcntl
#endif
