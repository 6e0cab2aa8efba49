// The native `shadowbox` launcher: the release's bin, and daemon/bin/shadowbox in a checkout (built by
// scripts/build-launcher.mjs when a C compiler is present). Node's own start is ~2x `python3 -c` on the machines
// this runs on, so no Node CLI can run a sandboxed `python -c` in twice python3's time, nor `status` in 1.5x
// `node -e ''` (issue 20's goals). This program answers the commands where that start dominates, with a daemon
// running: `shadowbox python` in python3's forms (-c CODE, -m MOD, FILE, - or the program on stdin; python installed)
// and `shadowbox status`. And it is the process an editor keeps beside it for `shadowbox acp`: it relays the editor
// to the ACP bridge the daemon hosts (starting the daemon as the Node client does when none runs). It speaks the
// same protocol as the Node client (the method names and protocol version come from protocol/, generated into
// protocol.h), sends the same requests in the same order, and prints what the Node client prints
// (test/launcher/launcher.test.ts runs both on the same commands and compares every byte).
//
// Everything else, and every case it is not sure of before it has changed anything, goes to the Node CLI beside it
// (shadowbox.js, through `node` on PATH, as the bin's shebang finds it): another command, -V/-h/--timeout and unknown
// options, a file Node refuses, no daemon (Node starts one), python not installed yet (Node installs it, with
// progress), a text that is not UTF-8, an initialize or session/list the daemon refuses. Piped stdin is read only
// after the daemon has answered initialize; once read it cannot be handed over, so a later failure is said instead.
// After tools/call is sent nothing is handed over: the call may have run. SHADOWBOX_LAUNCHER=0 sends every command
// to Node.
//
// It trusts what the Node client trusts: the socket in the person's private state folder. The program's output
// is written as the Node client writes it (raw; it is the person's own program's output).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "protocol.h"

// The title of the CLI's python session (daemon/src/cli/tool-commands.ts callTool: `shadowbox ${tool}`).
#define SB_PYTHON_TITLE "shadowbox python"

#define MAX_MESSAGE (1u << 30)

/** The exit code when stdout's reader went away: 141 as the Node CLI's SIGPIPE; 0 for acp, as the Node bridge. */
static int epipe_exit = 141;
static char **g_argv;
static int g_argc;
/** Set once the command consumed something Node would need (stdin): a hand-over is then a said failure. */
static int committed;

/** The folder of this program (and of shadowbox.js beside it), from /proc/self/exe; NULL when unknown. */
static char *self_dir(void) {
  static char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return NULL;
  exe[n] = 0;
  *strrchr(exe, '/') = 0;
  return exe;
}

/** Runs the Node CLI with the same arguments; never returns. */
static void to_node(void) {
  if (committed && !strcmp(g_argv[1], "acp")) {
    fprintf(stderr, "shadowbox acp: the daemon connection closed\n"); // the Node bridge's words
    exit(1);
  }
  if (committed) {
    fprintf(stderr, "shadowbox %s: the daemon did not answer as expected (nothing was run): try again\n", g_argv[1]);
    exit(1);
  }
  char *exe = self_dir();
  if (!exe) {
    fprintf(stderr, "shadowbox: cannot find the launcher's own folder (/proc/self/exe): %s\n", strerror(errno));
    exit(70);
  }
  buf js = {0};
  buf_str(&js, exe);
  buf_str(&js, "/shadowbox.js");
  char **args = calloc((size_t)g_argc + 2, sizeof *args);
  if (!args) abort();
  args[0] = "node";
  args[1] = js.p;
  for (int i = 1; i < g_argc; i++) args[i + 1] = g_argv[i];
  signal(SIGPIPE, SIG_DFL); // as this process was started (main ignores it; an ignored signal survives exec)
  execvp("node", args);
  fprintf(stderr, "shadowbox: cannot run node (%s): shadowbox needs Node.js >= 20.19 on PATH\n", strerror(errno));
  exit(127);
}

/** path.resolve(base, p) for absolute base: joined, with ".", ".." and repeated or trailing slashes removed. */
static char *resolve(const char *base, const char *p) {
  buf in = {0};
  if (p[0] != '/') {
    buf_str(&in, base);
    buf_str(&in, "/");
  }
  buf_str(&in, p);
  buf out = {0};
  buf_add(&out, "", 0);
  char *save = NULL;
  for (char *seg = strtok_r(in.p, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
    if (!strcmp(seg, ".")) continue;
    if (!strcmp(seg, "..")) {
      char *last = strrchr(out.p, '/');
      if (last) out.len = (size_t)(last - out.p), out.p[out.len] = 0;
      continue;
    }
    buf_str(&out, "/");
    buf_str(&out, seg);
  }
  if (!out.len) buf_str(&out, "/");
  free(in.p);
  return out.p;
}

static char *join(const char *a, const char *b) {
  buf o = {0};
  buf_str(&o, a);
  buf_str(&o, "/");
  buf_str(&o, b);
  return o.p;
}

static const char *env(const char *name) {
  const char *v = getenv(name);
  return v && *v ? v : NULL;
}

/** A JSON file of the state folder (folder/name), parsed; NULL when it cannot be read or is not JSON. */
static jv *read_json_file(const char *folder, const char *name) {
  char *file = join(folder, name);
  FILE *f = fopen(file, "rb");
  free(file);
  if (!f) return NULL;
  buf text = {0};
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) buf_add(&text, chunk, n);
  fclose(f);
  jv *doc = text.p ? json_parse(text.p, text.len) : NULL;
  free(text.p);
  return doc;
}

/** Whether the state folder's store lists python (first-use.ts bundleRecorded: a hint; the daemon verifies). */
static int python_recorded(const char *state_dir) {
  jv *entry = json_get(json_get(read_json_file(state_dir, "bundles/installed.json"), "bundles"), "python");
  return entry && (entry->t == J_OBJ || entry->t == J_ARR) && entry->n > 0;
}

static int sock = -1;
static int next_id = 0;
static buf inbuf;

static void send_all(const char *p, size_t n) {
  while (n) {
    ssize_t w = send(sock, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return; // a closed link shows as the missing answer
    p += w;
    n -= (size_t)w;
  }
}

static void send_message(const char *body, size_t n) {
  char head[64];
  int h = snprintf(head, sizeof head, "Content-Length: %zu\r\n\r\n", n);
  send_all(head, (size_t)h);
  send_all(body, n);
}

/** Sends a request or notification (id 0): params is JSON text. Returns the request's id. */
static int send_rpc(const char *method, const char *params, int notify) {
  buf b = {0};
  buf_str(&b, "{\"jsonrpc\":\"2.0\",");
  int id = 0;
  if (!notify) {
    char tmp[32];
    snprintf(tmp, sizeof tmp, "\"id\":%d,", id = ++next_id);
    buf_str(&b, tmp);
  }
  buf_str(&b, "\"method\":");
  buf_json_string(&b, method, strlen(method));
  buf_str(&b, ",\"params\":");
  buf_str(&b, params);
  buf_str(&b, "}");
  send_message(b.p, b.len);
  free(b.p);
  return id;
}

/** A Content-Length header's value (after the colon, up to `end`): spaces or tabs, then digits; -1 otherwise. */
static long long content_length(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t')) p++;
  long long n = 0;
  const char *start = p;
  for (; p < end && *p >= '0' && *p <= '9'; p++)
    if ((n = n * 10 + (*p - '0')) > (long long)MAX_MESSAGE) return -1;
  return p > start && (p == end || *p == '\r' || *p == ' ' || *p == '\t') ? n : -1;
}

/** The next whole message, or NULL when the link closed, broke the framing or sent a body that is not JSON (then
 * the answer awaited may be lost: the caller hands over before tools/call, and says so after it). */
static jv *read_message(void) {
  for (;;) {
    char *head_end = inbuf.p ? memmem(inbuf.p, inbuf.len, "\r\n\r\n", 4) : NULL;
    if (head_end) {
      size_t head_len = (size_t)(head_end - inbuf.p);
      long long length = -1;
      for (size_t i = 0; i + 15 <= head_len; i++)
        if ((i == 0 || inbuf.p[i - 1] == '\n') && !strncasecmp(inbuf.p + i, "content-length:", 15))
          length = content_length(inbuf.p + i + 15, inbuf.p + head_len);
      if (length < 0 || (unsigned long long)length > MAX_MESSAGE) return NULL;
      size_t total = head_len + 4 + (size_t)length;
      if (inbuf.len >= total) {
        jv *msg = json_parse(inbuf.p + head_len + 4, (size_t)length);
        memmove(inbuf.p, inbuf.p + total, inbuf.len - total);
        inbuf.len -= total;
        return msg;
      }
    }
    char chunk[65536];
    ssize_t r = read(sock, chunk, sizeof chunk);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return NULL;
    buf_add(&inbuf, chunk, (size_t)r);
  }
}

/** Waits for the answer to request `id`; answers a request from the daemon as not supported and skips
 * notifications. NULL if the link closed. (The daemon asks a client only what it declared it answers, permissions
 * or buffers, and this one declares neither.) */
static jv *await_response(int id) {
  for (;;) {
    jv *msg = read_message();
    if (!msg) return NULL;
    jv *mid = json_get(msg, "id");
    jv *method = json_get(msg, "method");
    if (method && mid && (mid->t == J_NUM || mid->t == J_STR)) {
      buf b = {0};
      buf_str(&b, "{\"jsonrpc\":\"2.0\",\"id\":");
      if (mid->t == J_STR) buf_json_string(&b, mid->s, mid->len);
      else {
        char tmp[40];
        snprintf(tmp, sizeof tmp, "%.17g", mid->num);
        buf_str(&b, tmp);
      }
      buf text = {0};
      buf_str(&text, "Unhandled method ");
      if (method->t == J_STR) buf_add(&text, method->s, method->len);
      buf_str(&b, ",\"error\":{\"code\":-32601,\"message\":");
      buf_json_string(&b, text.p, text.len);
      buf_str(&b, "}}");
      free(text.p);
      send_message(b.p, b.len);
      continue;
    }
    if (mid && mid->t == J_NUM && mid->num == id) return msg;
  }
}

/** A request whose failure leaves nothing changed: the answer's result, or NULL (the caller hands over to Node). */
static jv *request_or_null(const char *method, const char *params) {
  jv *msg = await_response(send_rpc(method, params, 0));
  jv *result = json_get(msg, "result");
  return result && !json_get(msg, "error") ? result : NULL;
}

/** Writes all of it; a reader that went away ends the command as the Node CLI ends it (exit 141, as SIGPIPE). */
static void write_out(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EPIPE) exit(epipe_exit);
    if ((w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) || w == 0) {
      // A non-blocking stdout (its reader's choice): wait until it takes more, as Node does.
      struct pollfd pfd = {.fd = fd, .events = POLLOUT};
      if (poll(&pfd, 1, -1) < 0 && errno != EINTR) return;
      continue;
    }
    if (w < 0) return;
    p += w;
    n -= (size_t)w;
  }
}

static void out_str(int fd, const char *s) { write_out(fd, s, strlen(s)); }

static int is_str(const jv *v) { return v && v->t == J_STR; }

/** Whether v is the string s (length-aware: a string with a NUL in it is not a prefix of it). */
static int str_eq(const jv *v, const char *s) { return is_str(v) && v->len == strlen(s) && !memcmp(v->s, s, v->len); }

/** JavaScript's truthiness of a JSON value (absent is false). */
static int truthy(const jv *v) {
  if (!v) return 0;
  switch (v->t) {
  case J_NULL: return 0;
  case J_BOOL: return v->b;
  case J_NUM: return v->num != 0 && !isnan(v->num);
  case J_STR: return v->len > 0;
  default: return 1;
  }
}

/** String(x) for a number, near enough for what a daemon that keeps its contract never sends here: the shortest
 * %g that reads back as x, and 0 for -0. */
static void js_number(char *out, size_t size, double x) {
  if (x == 0) x = 0;
  for (int p = 1; p <= 17; p++) {
    snprintf(out, size, "%.*g", p, x);
    if (strtod(out, NULL) == x) return;
  }
}

static void out_joined(int fd, const jv *v);

/** `${v}` in JavaScript for what a result's text fields hold (strings; the rest as JS would print them). */
static void out_template(int fd, const jv *v) {
  if (!v) out_str(fd, "undefined");
  else if (v->t == J_STR) write_out(fd, v->s, v->len);
  else if (v->t == J_NULL) out_str(fd, "null");
  else if (v->t == J_BOOL) out_str(fd, v->b ? "true" : "false");
  else if (v->t == J_NUM) {
    char tmp[40];
    js_number(tmp, sizeof tmp, v->num);
    out_str(fd, tmp);
  } else if (v->t == J_ARR) {
    for (size_t i = 0; i < v->n; i++) {
      if (i) out_str(fd, ",");
      out_joined(fd, v->items[i]);
    }
  } else out_str(fd, "[object Object]");
}

/** An item as Array.prototype.join writes it: null and undefined as nothing. */
static void out_joined(int fd, const jv *v) {
  if (v && v->t != J_NULL) out_template(fd, v);
}

/** Number.prototype.toFixed(1) for x >= 0 below 1e15: rounded on x's exact decimal value, a half up (the spec's
 * "the larger n"). Not printf's %.1f, which rounds a half to even, and not x * 10, which rounds first. */
static void fixed1(char *out, size_t size, double x) {
  char exact[400];
  snprintf(exact, sizeof exact, "%.330f", x); // every digit of a double of this size
  char *dot = strchr(exact, '.');
  int up = dot[2] >= '5';
  dot[2] = 0;
  if (up) {
    char *p = dot + 1;
    for (;;) {
      if (*p == '.') p--;
      if (p < exact) {
        memmove(exact + 1, exact, strlen(exact) + 1);
        exact[0] = '1';
        break;
      }
      if (*p == '9') *p-- = '0';
      else {
        (*p)++;
        break;
      }
    }
  }
  snprintf(out, size, "%s", exact);
}

/** Math.round(x): the nearest integer, a half up. Not floor(x + 0.5), which rounds 0.49999999999999994 up. */
static double js_round(double x) {
  double r = floor(x);
  return x - r >= 0.5 ? r + 1 : r;
}

/** tool-commands.ts callTool's output for a tools/call answer; returns the exit code. */
static int print_result(jv *msg) {
  jv *err = json_get(msg, "error");
  jv *r = json_get(msg, "result");
  if (err && err->t != J_OBJ) err = NULL;
  if (err || !r || r->t != J_OBJ) {
    jv *code = json_get(err, "code"), *message = json_get(err, "message");
    jv *reason = json_get(json_get(err, "data"), "reason");
    out_str(2, "shadowbox python: ");
    if (code && code->t == J_NUM && truthy(message)) {
      char tmp[48];
      out_template(2, message);
      snprintf(tmp, sizeof tmp, " (%.17g", code->num);
      out_str(2, tmp);
      if (truthy(reason)) out_str(2, " "), out_template(2, reason);
      out_str(2, ")\n");
    } else out_str(2, "the daemon's answer to tools/call was not a result\n");
    return 1;
  }
  // RunData in tool-commands.ts: an object whose known fields have their types, or nothing usable.
  jv *d = json_get(r, "data");
  int valid = !d || d->t == J_NULL || d->t == J_OBJ;
  jv *stdout_ = json_get(d, "stdout"), *stderr_ = json_get(d, "stderr"), *exit_code = json_get(d, "exitCode");
  jv *outcome = json_get(d, "outcome"), *timed_out = json_get(d, "timedOut"), *duration = json_get(d, "durationMs");
  if (valid && d && d->t == J_OBJ) {
    valid = (!stdout_ || stdout_->t == J_STR) && (!stderr_ || stderr_->t == J_STR) &&
            (!outcome || outcome->t == J_STR) && (!timed_out || timed_out->t == J_BOOL) &&
            (!duration || duration->t == J_NUM) &&
            (!exit_code || exit_code->t == J_NULL ||
             (exit_code->t == J_NUM && exit_code->num == floor(exit_code->num) &&
              fabs(exit_code->num) <= 9007199254740991.0));
  }
  int split = valid && (stdout_ || stderr_);
  int ran = split || (valid && outcome);
  int is_error = truthy(json_get(r, "isError"));
  jv *output = json_get(r, "output");
  if (output && output->t == J_NULL) output = NULL;
  if (split) {
    if (stdout_) write_out(1, stdout_->s, stdout_->len);
    if (stderr_) write_out(2, stderr_->s, stderr_->len);
    if (timed_out && timed_out->b) {
      char secs[64];
      double t = (duration ? duration->num : 0) / 1000;
      if (t >= 0 && t < 1e15) fixed1(secs, sizeof secs, t);
      else js_number(secs, sizeof secs, t); // a daemon out of its contract: toFixed's own forms are not copied
      out_str(2, "\nshadowbox: python was stopped after ");
      out_str(2, secs);
      out_str(2, " s: its time limit (give it more with --timeout SECONDS)\n");
    }
  } else if (ran) {
    if (is_str(output)) write_out(1, output->s, output->len);
    if (!(outcome->len == 6 && !memcmp(outcome->s, "exited", 6))) {
      out_str(2, "shadowbox: the run ended: ");
      write_out(2, outcome->s, outcome->len);
      out_str(2, "\n");
    }
  } else {
    int fd = is_error ? 2 : 1;
    jv *content = json_get(r, "content");
    out_template(fd, output ? output : content);
    out_str(fd, "\n");
  }
  jv *changed = json_get(r, "changed");
  if (changed && changed->t == J_ARR && changed->n > 0) {
    char head[128];
    snprintf(head, sizeof head, "shadowbox: %zu %s changed in the shadow workspace (", changed->n,
             changed->n == 1 ? "file" : "files");
    out_str(2, head);
    for (size_t i = 0; i < changed->n && i < 6; i++) {
      if (i) out_str(2, ", ");
      out_joined(2, changed->items[i]);
    }
    out_str(2, changed->n > 6 ? ", …" : "");
    out_str(2, "); review with: shadowbox review\n");
  }
  jv *reason = json_get(r, "reason");
  if (is_error && !ran && truthy(reason)) {
    out_str(2, "shadowbox: python refused (");
    out_template(2, reason);
    out_str(2, ")\n");
  }
  if (valid && exit_code && exit_code->t == J_NUM) return (int)(long long)exit_code->num & 0xff;
  return is_error ? 1 : 0;
}

/** The python tool's input forms the launcher sends (python-args.ts pythonCliInput). */
typedef enum { PY_CODE, PY_MODULE, PY_FILE, PY_STDIN } py_form;

typedef struct {
  py_form form;
  const char *value; // the code, the module, or the file as given
  int first_arg;     // argv index of the program's first argument
} py_input;

/** Whether a is one of python3's options that mean nothing in the sandbox and are dropped (-u -B -E -I …). */
static int dropped_option(const char *a) {
  return a[0] == '-' && a[1] && strspn(a + 1, "uBEIsSqbOdv") == strlen(a + 1);
}

/** Whether s starts with a character JavaScript's `.` matches (pythonCliInput's /^-[WX]./): not a line terminator. */
static int glued_value(const char *s) {
  return *s && *s != '\n' && *s != '\r' && strncmp(s, "\xe2\x80\xa8", 3) && strncmp(s, "\xe2\x80\xa9", 3);
}

/** pythonCliInput's reading of `python [OPTIONS] (-c CODE | -m MOD | FILE | - | nothing) [ARG...]`: 1 and the form,
 * or 0 for what Node answers itself (-V, -h, an unknown option, a missing argument). */
static int python_form(int argc, char **argv, py_input *in) {
  int i = 2;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-") || a[0] != '-') break;
    if (!strcmp(a, "--")) {
      i++;
      break;
    }
    if (!strcmp(a, "-V") || !strcmp(a, "--version") || !strcmp(a, "-h") || !strcmp(a, "-?") || !strcmp(a, "--help"))
      return 0;
    if (!strcmp(a, "-c") || !strcmp(a, "-m")) {
      if (i + 1 >= argc) return 0;
      *in = (py_input){a[1] == 'c' ? PY_CODE : PY_MODULE, argv[i + 1], i + 2};
      return 1;
    }
    if (!strncmp(a, "-c", 2) || !strncmp(a, "-m", 2)) {
      *in = (py_input){a[1] == 'c' ? PY_CODE : PY_MODULE, a + 2, i + 1};
      return 1;
    }
    if (!strcmp(a, "-W") || !strcmp(a, "-X")) i++;
    else if (!dropped_option(a) && !((a[1] == 'W' || a[1] == 'X') && glued_value(a + 2))) return 0;
  }
  const char *target = i < argc ? argv[i] : NULL;
  *in = (py_input){!target || !strcmp(target, "-") ? PY_STDIN : PY_FILE, target, i + 1};
  return 1;
}

/** path.relative(workspace, file) for a file inside the workspace, or NULL when Node refuses it (outside, the
 * workspace itself, or a name that starts with ".."). */
static const char *inside(const char *workspace, const char *file) {
  size_t n = strlen(workspace);
  const char *rel = !strcmp(workspace, "/")                                  ? file + 1
                    : !strncmp(file, workspace, n) && file[n] == '/' ? file + n + 1
                                                                              : NULL;
  return rel && *rel && strncmp(rel, "..", 2) ? rel : NULL;
}

/** All of stdin as Node's readStdin gives it (tool-commands.ts): NULL for a terminal. A non-blocking stdin is waited
 * on. Reading sets `committed` once a byte is consumed: until then a read error still hands over (Node says it). */
static buf *read_stdin(void) {
  static buf text;
  if (isatty(0)) return NULL;
  buf raw = {0};
  char chunk[65536];
  for (;;) {
    ssize_t r = read(0, chunk, sizeof chunk);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      struct pollfd pfd = {.fd = 0, .events = POLLIN};
      if (poll(&pfd, 1, -1) < 0 && errno != EINTR) to_node();
      continue;
    }
    if (r < 0 && committed) {
      fprintf(stderr, "shadowbox python: cannot read stdin: %s (nothing was run)\n", strerror(errno));
      exit(1);
    }
    if (r < 0) to_node(); // nothing read: Node reads it and says what is wrong
    if (r == 0) break;
    committed = 1;
    buf_add(&raw, chunk, (size_t)r);
  }
  buf_add(&text, "", 0);
  utf8_decode(&text, (const unsigned char *)raw.p, raw.len);
  free(raw.p);
  return &text;
}

/** A connected Unix stream socket to `path` (close-on-exec), or -1 with errno set. */
static int unix_connect(const char *path) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) return fd;
  int e = errno;
  close(fd);
  errno = e;
  return -1;
}

/** Connects to the daemon's socket and initializes as the Node client does (connectCli / status), or hands over. */
static void connect_and_initialize(const char *socket_path, const char *name, int events) {
  if ((sock = unix_connect(socket_path)) < 0) to_node();
  buf p = {0};
  buf_str(&p, "{\"protocolVersion\":" SB_PROTOCOL_VERSION ",\"clientInfo\":{\"kind\":\"cli\",\"name\":");
  buf_json_string(&p, name, strlen(name));
  buf_str(&p, events ? "},\"capabilities\":{\"permissions\":false,\"events\":true,\"buffers\":false}}"
                     : "},\"capabilities\":{\"permissions\":false,\"events\":false,\"buffers\":false}}");
  if (!request_or_null(SB_INITIALIZE, p.p)) to_node();
  send_rpc(SB_INITIALIZED, "{}", 1);
  free(p.p);
}

/** `python …` (pythonCommand): connectCli, then callTool (tool-commands.ts), the same requests in the same order. */
static int python_command(int argc, char **argv, const py_input *in, const char *cwd, const char *state_dir,
                          const char *socket_path) {
  if (!python_recorded(state_dir)) to_node();
  const char *ws_env = getenv("SHADOWBOX_WORKSPACE");
  char *workspace = resolve(cwd, ws_env ? ws_env : ".");
  char *real = realpath(workspace, NULL);
  if (!real) real = workspace;
  if (!utf8_valid(workspace, strlen(workspace)) || !utf8_valid(real, strlen(real))) to_node();
  const char *file = in->form == PY_FILE ? inside(workspace, resolve(cwd, in->value)) : NULL;
  if (in->form == PY_FILE && !file) to_node();
  connect_and_initialize(socket_path, "shadowbox-python", 1);
  // Piped input: the program itself (`-` or none), or what a FILE or -m program reads; -c gets none. Once some is
  // read it cannot be handed over: from then on a failure is said, not handed to Node (read_stdin sets committed).
  buf *input = in->form == PY_CODE ? NULL : read_stdin();

  buf p = {0};
  buf_str(&p, "{\"workspace\":");
  buf_json_string(&p, real, strlen(real));
  buf_str(&p, "}");
  jv *sessions = json_get(request_or_null(SB_SESSION_LIST, p.p), "sessions");
  if (!sessions || sessions->t != J_ARR) to_node();
  // The first idle session of this workspace with the CLI's title (Array.prototype.find), as callTool picks it.
  jv *session_id = NULL;
  for (size_t i = 0; i < sessions->n; i++) {
    jv *s = sessions->items[i];
    if (s->t != J_OBJ) to_node(); // Node would fail on it: let it say so
    if (str_eq(json_get(s, "title"), SB_PYTHON_TITLE) && str_eq(json_get(s, "workspace"), real) &&
        str_eq(json_get(s, "state"), "idle")) {
      session_id = json_get(s, "sessionId");
      break;
    }
  }
  if (!is_str(session_id)) {
    // A create whose answer is lost hands over too: Node lists again, and may leave that session idle beside its own.
    p.len = 0;
    buf_str(&p, "{\"workspace\":");
    buf_json_string(&p, workspace, strlen(workspace));
    buf_str(&p, ",\"title\":");
    buf_json_string(&p, SB_PYTHON_TITLE, strlen(SB_PYTHON_TITLE));
    buf_str(&p, "}");
    session_id = json_get(request_or_null(SB_SESSION_CREATE, p.p), "sessionId");
    if (!is_str(session_id)) to_node();
  }

  // From here the call may run: no hand-over after this point.
  p.len = 0;
  buf_str(&p, "{\"sessionId\":");
  buf_json_string(&p, session_id->s, session_id->len);
  buf_str(&p, ",\"tool\":\"python\",\"input\":{");
  if (in->form == PY_STDIN) {
    buf_str(&p, "\"code\":");
    buf_json_string(&p, input ? input->p : "", input ? input->len : 0);
  } else {
    buf_str(&p, in->form == PY_CODE ? "\"code\":" : in->form == PY_MODULE ? "\"module\":" : "\"file\":");
    const char *v = in->form == PY_FILE ? file : in->value;
    buf_json_string(&p, v, strlen(v));
    if (in->form != PY_CODE && input && input->len) {
      buf_str(&p, ",\"stdin\":");
      buf_json_string(&p, input->p, input->len);
    }
  }
  buf_str(&p, ",\"args\":[");
  for (int i = in->first_arg; i < argc; i++) {
    if (i > in->first_arg) buf_str(&p, ",");
    buf_json_string(&p, argv[i], strlen(argv[i]));
  }
  buf_str(&p, "]}}");
  jv *answer = await_response(send_rpc(SB_TOOLS_CALL, p.p, 0));
  if (!answer) {
    out_str(2, "shadowbox python: the daemon closed the connection before it answered\n");
    return 1;
  }
  return print_result(answer);
}

static int is_ascii_str(const jv *v) {
  if (!is_str(v)) return 0;
  for (size_t i = 0; i < v->len; i++)
    if ((unsigned char)v->s[i] >= 0x80 || !v->s[i]) return 0;
  return 1;
}

static int is_int(const jv *v) { return v && v->t == J_NUM && v->num == floor(v->num) && fabs(v->num) < 1e15; }

static int is_str_or_null(const jv *v) { return v && (v->t == J_STR || v->t == J_NULL); }

/** The daemon/status result as `status` prints it, or 0 (then Node prints it) when a field is not as declared. */
static int status_valid(const jv *s) {
  jv *env = json_get(s, "environment"), *boxes = json_get(s, "sandboxes"), *clients = json_get(s, "clients");
  if (!is_str(json_get(s, "version")) || !is_int(json_get(s, "pid")) || !json_get(s, "uptimeMs") ||
      json_get(s, "uptimeMs")->t != J_NUM || !(fabs(json_get(s, "uptimeMs")->num) < 1e15) ||
      !is_int(json_get(s, "rssBytes")) || json_get(s, "rssBytes")->num < 0 || !is_str(json_get(s, "stateDir")) ||
      !is_str_or_null(json_get(s, "socketPath")) || !is_str_or_null(json_get(s, "webUrl")) ||
      !is_int(json_get(s, "sessions")) || !clients || clients->t != J_ARR || !boxes || boxes->t != J_ARR ||
      (env && env->t != J_ARR))
    return 0;
  for (size_t i = 0; env && i < env->n; i++) {
    jv *e = env->items[i], *set = json_get(e, "set"), *secret = json_get(e, "secret");
    jv *value = json_get(e, "value"), *fp = json_get(e, "fingerprint");
    if (!is_ascii_str(json_get(e, "name")) || !set || set->t != J_BOOL || !secret || secret->t != J_BOOL ||
        (value && value->t != J_STR) || (fp && fp->t != J_STR))
      return 0;
  }
  for (size_t i = 0; i < boxes->n; i++) {
    jv *b = boxes->items[i], *available = json_get(b, "available"), *missing = json_get(b, "missing");
    if (!is_ascii_str(json_get(b, "name")) || !available || available->t != J_BOOL || !is_str(json_get(b, "detail")) ||
        !missing || missing->t != J_ARR)
      return 0;
    for (size_t j = 0; j < missing->n; j++)
      if (!is_str(missing->items[j])) return 0;
  }
  return 1;
}

/** `status` (lifecycle-commands.ts statusCommand) with a daemon running; anything else is Node's. */
static int status_command(const char *state_dir, const char *socket_path) {
  // readLock: the lock file as declared, held by a live process.
  jv *lock = read_json_file(state_dir, "daemon.lock");
  jv *pid = json_get(lock, "pid"), *lock_socket = json_get(lock, "socketPath");
  if (!is_int(pid) || pid->num < 1 || pid->num > 2147483647 || !is_str_or_null(lock_socket) ||
      !is_str_or_null(json_get(lock, "webUrl")) || !is_str(json_get(lock, "startedAt")) ||
      !is_str(json_get(lock, "version")))
    to_node();
  if (kill((pid_t)pid->num, 0) < 0 && errno != EPERM) to_node();
  if (is_str(lock_socket) &&
      (strlen(lock_socket->s) != lock_socket->len || !utf8_valid(lock_socket->s, lock_socket->len)))
    to_node();
  connect_and_initialize(is_str(lock_socket) ? lock_socket->s : socket_path, "shadowbox-status", 0);
  jv *s = request_or_null(SB_DAEMON_STATUS, "{}");
  if (!s || !status_valid(s)) to_node();

  buf o = {0};
  char tmp[64];
  buf_str(&o, "shadowbox daemon ");
  buf_add(&o, json_get(s, "version")->s, json_get(s, "version")->len);
  snprintf(tmp, sizeof tmp, " running (pid %lld, up %lld s, ", (long long)json_get(s, "pid")->num,
           (long long)js_round(json_get(s, "uptimeMs")->num / 1000));
  buf_str(&o, tmp);
  fixed1(tmp, sizeof tmp, json_get(s, "rssBytes")->num / 1048576);
  buf_str(&o, tmp);
  buf_str(&o, " MiB RSS)\n  state dir: ");
  buf_add(&o, json_get(s, "stateDir")->s, json_get(s, "stateDir")->len);
  buf_str(&o, "\n  socket:    ");
  jv *sp = json_get(s, "socketPath"), *web = json_get(s, "webUrl");
  if (is_str(sp)) buf_add(&o, sp->s, sp->len);
  else buf_str(&o, "none");
  buf_str(&o, "\n  web:       ");
  if (is_str(web)) buf_add(&o, web->s, web->len);
  else buf_str(&o, "off");
  if (truthy(web)) buf_str(&o, "  (shadowbox web prints a URL with the token)");
  snprintf(tmp, sizeof tmp, "\n  sessions:  %lld, clients attached now: %lld\n",
           (long long)json_get(s, "sessions")->num, (long long)json_get(s, "clients")->n - 1);
  buf_str(&o, tmp);
  buf_str(&o, "  model settings (from the environment the daemon started with; `shadowbox stop` to renew):\n");
  jv *env = json_get(s, "environment");
  size_t width = 0;
  for (size_t i = 0; env && i < env->n; i++)
    if (json_get(env->items[i], "name")->len > width) width = json_get(env->items[i], "name")->len;
  for (size_t i = 0; env && i < env->n; i++) {
    jv *e = env->items[i], *name = json_get(e, "name"), *value = json_get(e, "value");
    jv *fp = json_get(e, "fingerprint");
    buf_str(&o, "    ");
    buf_add(&o, name->s, name->len);
    for (size_t k = name->len; k < width; k++) buf_str(&o, " ");
    buf_str(&o, "  ");
    if (!json_get(e, "set")->b) buf_str(&o, "unset");
    else if (json_get(e, "secret")->b) {
      buf_str(&o, "set (sha256 ");
      if (fp) buf_add(&o, fp->s, fp->len);
      else buf_str(&o, "?");
      buf_str(&o, "…)");
    } else if (value) buf_add(&o, value->s, value->len);
    buf_str(&o, "\n");
  }
  buf_str(&o, "  sandboxes:\n");
  jv *boxes = json_get(s, "sandboxes");
  for (size_t i = 0; i < boxes->n; i++) {
    jv *b = boxes->items[i], *name = json_get(b, "name"), *missing = json_get(b, "missing");
    int available = json_get(b, "available")->b;
    buf_str(&o, "    ");
    buf_add(&o, name->s, name->len);
    for (size_t k = name->len; k < 6; k++) buf_str(&o, " ");
    buf_str(&o, available ? " available: " : " not available: ");
    if (available) buf_add(&o, json_get(b, "detail")->s, json_get(b, "detail")->len);
    buf_str(&o, "\n");
    for (size_t j = 0; j < missing->n; j++) {
      buf_str(&o, "      - ");
      buf_add(&o, missing->items[j]->s, missing->items[j]->len);
      buf_str(&o, "\n");
    }
  }
  write_out(1, o.p, o.len);
  return 0;
}

/** No daemon answers: nothing is listening there, or nothing is there (the Node client's test, ensureDaemon). */
static int nobody_there(int e) { return e == ENOENT || e == ECONNREFUSED; }

/** The daemon cannot be relayed to: the Node bridge serves the editor while nothing was read from it; after (the cold
 * start reads the editor's initialize), the reason is said, as the Node bridge says it, exit 1. */
static void acp_unreachable(const char *why, const char *path) {
  if (!committed) to_node();
  fprintf(stderr, "shadowbox acp: cannot reach the daemon: %s %s\n", path, why);
  exit(1);
}

/** The daemon's ACP socket, connected; -1 with errno when nothing answers there. Something at that path that is not
 * a socket of this user's (a symlink to the daemon's own socket, say: the daemon refuses to replace it and warns)
 * is not the daemon's ACP socket whatever it answers: the Node bridge serves the editor then. */
static int acp_connect(const char *path) {
  struct stat st;
  if (lstat(path, &st) == 0 && (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid()))
    acp_unreachable("is not a socket of this user's: the daemon has no ACP socket", path);
  return unix_connect(path);
}

/** fs.mkdir(dir, {recursive: true, mode: 0o700}): each missing folder made 0700. -1 on failure. */
static int mkdir_p(const char *dir) {
  buf p = {0};
  buf_str(&p, dir);
  int rc = 0;
  for (size_t i = 1; i <= p.len && !rc; i++)
    if (p.p[i] == '/' || p.p[i] == 0) {
      char c = p.p[i];
      p.p[i] = 0;
      if (mkdir(p.p, 0700) < 0 && errno != EEXIST) rc = -1;
      p.p[i] = c;
    }
  struct stat st;
  if (!rc && (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))) rc = -1;
  free(p.p);
  return rc;
}

/** The one-line reason a starting daemon printed to its output file after `from` (`shadowbox daemon: REASON`), as
 * connect.ts startFailure reads it (the last 64 KiB; "already running" is no failure: another client's daemon won
 * the race, and its socket is what is waited for). NULL when there is none. */
static char *start_failure(const char *file, off_t from) {
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  struct stat st;
  char *found = NULL;
  if (fstat(fd, &st) == 0 && st.st_size > from) {
    off_t start = st.st_size - from > 65536 ? st.st_size - 65536 : from;
    size_t n = (size_t)(st.st_size - start);
    char *text = malloc(n + 1);
    ssize_t r = text ? pread(fd, text, n, start) : -1;
    if (r > 0) {
      text[r] = 0;
      for (char *save = NULL, *line = strtok_r(text, "\n", &save); line && !found; line = strtok_r(NULL, "\n", &save)) {
        while (*line == ' ' || *line == '\t' || *line == '\r') line++;
        size_t len = strlen(line);
        while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r')) line[--len] = 0;
        const char *prefix = "shadowbox daemon: ";
        if (!strncmp(line, prefix, strlen(prefix)) && len > strlen(prefix) &&
            !strstr(line, "a shadowbox daemon is already running"))
          found = strdup(line + strlen(prefix));
      }
    }
    free(text);
  }
  close(fd);
  return found;
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

#define DAEMON_START_TIMEOUT_MS 15000

/** Past this many bytes waiting in one direction the relay stops reading that side, so the writer waits (a Node
 * bridge would hold them in its memory; the editor or the daemon not reading for that long is stuck anyway). */
#define RELAY_HELD_MAX ((size_t)64 << 20)

/** The editor's bytes read before the relay started (the cold start reads its initialize while the daemon starts). */
static buf early_up;
/** Whether the editor closed stdin during the cold start (a terminal's Ctrl-D is seen once). */
static int early_stdin_closed;
/** The early answer's line, to compare with the bridge's own answer to the same initialize. */
static buf early_answer;
/** The id (as JSON) of the editor's initialize the launcher answered itself; the bridge's own answer to it is then
 * dropped. NULL when it did not answer. */
static char *answered_id;
/** The length of that initialize's line: until the bridge has answered it, only it is sent (the ACP SDK refuses a
 * request that comes before its initialize is answered; the editor sent them after the launcher's answer). */
static size_t answered_line;

/** Whether a JSON-RPC id can be echoed here exactly as JSON.stringify writes it: an integer JSON numbers keep exactly,
 * or a string of printable ASCII needing no escape (what editors send); written into `out`. */
static int simple_id(const jv *id, buf *out) {
  char tmp[40];
  if (id && id->t == J_NUM && id->num == floor(id->num) && fabs(id->num) <= 9007199254740991.0 &&
      !(id->num == 0 && signbit(id->num))) {
    snprintf(tmp, sizeof tmp, "%.0f", id->num);
    buf_str(out, tmp);
    return 1;
  }
  if (!id || id->t != J_STR || !id->len) return 0;
  for (size_t i = 0; i < id->len; i++)
    if (id->s[i] < 0x20 || id->s[i] > 0x7e || id->s[i] == '"' || id->s[i] == '\\') return 0;
  buf_str(out, "\"");
  buf_add(out, id->s, id->len);
  buf_str(out, "\"");
  return 1;
}

static int absent_or(const jv *v, jtype t) { return !v || v->t == t; }

/** The editor's first line, when it is an initialize the bridge would accept (the ACP SDK's schema, as far as the
 * answer needs it): the answer the bridge gives to it, generated from the bridge's own code (SB_ACP_INITIALIZE_RESULT,
 * scripts/build-launcher.mjs), written to stdout; its id is kept so the bridge's answer is dropped. Anything else is
 * left for the bridge to answer. */
static void answer_initialize_early(const char *line, size_t len) {
  jv *m = json_parse(line, len);
  jv *params = json_get(m, "params"), *caps = json_get(params, "clientCapabilities");
  jv *fs = json_get(caps, "fs"), *info = json_get(params, "clientInfo"), *version = json_get(params, "protocolVersion");
  if (!m || m->t != J_OBJ || !str_eq(json_get(m, "jsonrpc"), "2.0") || !str_eq(json_get(m, "method"), "initialize") ||
      !params || params->t != J_OBJ || !version || version->t != J_NUM || version->num != floor(version->num) ||
      version->num < 0 || version->num > 65535 || !absent_or(caps, J_OBJ) || !absent_or(fs, J_OBJ) ||
      !absent_or(json_get(fs, "readTextFile"), J_BOOL) || !absent_or(json_get(fs, "writeTextFile"), J_BOOL) ||
      !absent_or(json_get(caps, "terminal"), J_BOOL) || !absent_or(info, J_OBJ) ||
      (info && (!is_str(json_get(info, "name")) || !is_str(json_get(info, "version")) ||
                !absent_or(json_get(info, "title"), J_STR))))
    return;
  buf id = {0};
  if (!simple_id(json_get(m, "id"), &id)) return;
  jv *reads = json_get(fs, "readTextFile");
  buf o = {0};
  buf_str(&o, "{\"jsonrpc\":\"2.0\",\"id\":");
  buf_add(&o, id.p, id.len);
  buf_str(&o, ",\"result\":");
  buf_str(&o, reads && reads->b ? SB_ACP_INITIALIZE_RESULT_BUFFERS : SB_ACP_INITIALIZE_RESULT);
  buf_str(&o, "}\n");
  write_out(1, o.p, o.len);
  early_answer = o;
  answered_id = id.p;
  answered_line = len + 1;
}

/** No daemon: starts one as the Node client does (ensureDaemon, startDetached: `node shadowbox.js daemon` in a
 * session of its own, re-parented away from this process, so an editor that kills its agent's process group or every
 * descendant does not take it along; only its stdio, none of the editor's other descriptors; its output appended to
 * <state dir>/daemon.out; glibc malloc tunables unless the environment has its own), then waits for its ACP socket,
 * answering the editor's initialize meanwhile. Returns the connected socket. A daemon that says why it cannot start,
 * or does not start in time, is reported as the Node bridge reports it (exit 1). A daemon that listens without an ACP
 * socket gets the Node bridge while nothing was read from stdin; after, that is said (acp_unreachable). */
static int start_daemon(const char *state_dir, const char *socket_path, const char *acp_path) {
  char *dir = self_dir();
  if (!dir || mkdir_p(state_dir) < 0) to_node();
  char *out = join(state_dir, "daemon.out");
  int log = open(out, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  struct stat st;
  if (log < 0 || fstat(log, &st) < 0) to_node();
  off_t from = st.st_size;
  char *js = join(dir, "shadowbox.js");
  pid_t pid = fork();
  if (pid < 0) to_node();
  if (pid == 0) {
    // The intermediate: a new session, the daemon forked from it, and gone at once.
    setsid();
    pid_t daemon = fork();
    if (daemon != 0) _exit(daemon < 0 ? 1 : 0);
    int null = open("/dev/null", O_RDONLY);
    if (null < 0 || dup2(null, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0) _exit(1);
    // Only its stdio, as Node's spawn gives it: a descriptor the editor let this process inherit (a pipe it waits to
    // see closed) must not stay open for the daemon's life.
    if (close_range(3, ~0U, 0) < 0)
      for (int fd = 3; fd < 65536; fd++) close(fd);
    setenv("SHADOWBOX_STATE_DIR", state_dir, 1);
    setenv("SHADOWBOX_SOCKET", socket_path, 1);
    if (!getenv("GLIBC_TUNABLES")) setenv("GLIBC_TUNABLES", SB_DAEMON_MALLOC_TUNABLES, 1);
    signal(SIGPIPE, SIG_DFL);
    char *args[] = {"node", js, "daemon", NULL};
    execvp("node", args);
    fprintf(stderr, "shadowbox daemon: cannot run node (%s): shadowbox needs Node.js >= 20.19 on PATH\n",
            strerror(errno));
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  close(log);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) to_node();
  double deadline = now_ms() + DAEMON_START_TIMEOUT_MS, listening_since = -1;
  int last = 0;
  // While it starts: the editor's initialize is answered as the bridge would answer it (a Node bridge answers it
  // while the daemon starts too), and what the editor sends is kept for the relay.
  int stdin_open = 1, first_line = 1;
  while (now_ms() < deadline) {
    struct pollfd in = {.fd = stdin_open && early_up.len < RELAY_HELD_MAX ? 0 : -1, .events = POLLIN};
    if (poll(&in, 1, 25) > 0 && in.revents) {
      static char chunk[65536];
      ssize_t r = read(0, chunk, sizeof chunk);
      if (r > 0) {
        committed = 1;
        buf_add(&early_up, chunk, (size_t)r);
        char *nl = first_line ? memchr(early_up.p, '\n', early_up.len) : NULL;
        if (nl) {
          first_line = 0;
          answer_initialize_early(early_up.p, (size_t)(nl - early_up.p));
        } else if (early_up.len > (1u << 20))
          first_line = 0; // no initialize of this size: the bridge answers whatever it is
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        stdin_open = 0;
        early_stdin_closed = 1; // the relay ends the link once what was read is sent
      }
    }
    int fd = acp_connect(acp_path);
    if (fd >= 0) return fd;
    last = errno;
    int main_fd = unix_connect(socket_path);
    if (main_fd >= 0) {
      close(main_fd);
      // The ACP socket comes a moment after the daemon's own: a daemon that listens for a second without one has
      // none (a path it could not take, another version that won the start race), and the Node bridge serves this
      // editor, or, once the editor's bytes were read, that is said.
      if (listening_since < 0) listening_since = now_ms();
      else if (now_ms() - listening_since > 1000)
        acp_unreachable("does not answer: the daemon has no ACP socket", acp_path);
    }
    char *failure = start_failure(out, from);
    if (failure) {
      fprintf(stderr, "shadowbox acp: cannot reach the daemon: the shadowbox daemon could not start: %s (log: %s)\n",
              failure, out);
      exit(1);
    }
  }
  fprintf(stderr,
          "shadowbox acp: cannot reach the daemon: the shadowbox daemon did not start within %d ms (see %s): connect "
          "%s %s\n",
          DAEMON_START_TIMEOUT_MS, out, last == ENOENT ? "ENOENT" : last == ECONNREFUSED ? "ECONNREFUSED" : "failed",
          acp_path);
  exit(1);
}

/** How much can be written to `fd` now without blocking: a pipe's free space (its size less what is unread), else
 * PIPE_BUF, which a descriptor that polled writable takes. stdin and stdout stay as the editor made them (blocking or
 * not: their flags belong to the open file, which others may share), so no write may ask for more. */
static size_t writable_now(int fd) {
  int size = fcntl(fd, F_GETPIPE_SZ), unread = 0;
  if (size > 0 && ioctl(fd, FIONREAD, &unread) == 0) return size > unread ? (size_t)(size - unread) : 0;
  return PIPE_BUF;
}

/** The bridge's first line, when the launcher answered the editor's initialize itself: its answer to the same request,
 * dropped (the editor has it). An error there means the editor was told more than the bridge agreed to: said, exit 1.
 * Waits for the whole line; anything else passes. */
static void drop_answered(buf *down) {
  char *nl = memchr(down->p, '\n', down->len);
  if (!nl) return;
  size_t len = (size_t)(nl - down->p) + 1;
  jv *m = json_parse(down->p, len - 1);
  buf id = {0};
  if (m && simple_id(json_get(m, "id"), &id) && id.len == strlen(answered_id) && !memcmp(id.p, answered_id, id.len)) {
    if (json_get(m, "error")) {
      fprintf(stderr, "shadowbox acp: the daemon's bridge refused the editor's initialize: ");
      fwrite(down->p, 1, len - 1, stderr);
      fputc('\n', stderr);
      exit(1);
    }
    // Another daemon version (one that won a start race) may answer otherwise: the editor has the launcher's answer.
    if (len != early_answer.len || memcmp(down->p, early_answer.p, len))
      fprintf(stderr, "shadowbox acp: the daemon's bridge answered initialize otherwise than this launcher "
                      "(another shadowbox version?)\n");
    memmove(down->p, down->p + len, down->len - len);
    down->len -= len;
  }
  free(id.p);
  answered_id = NULL;
}

/** The relay between the editor (stdin, stdout) and the daemon's ACP socket, both ways at once: neither side waits
 * for the other to read (the daemon stops reading while an answer it wrote waits, and so may an editor), and nothing
 * blocks: the socket is non-blocking, stdin is read and stdout written only as far as poll says they go. Ends as the
 * Node bridge ends: 0 when the editor closed stdin and the daemon then ended the link (or the editor closed stdout);
 * the daemon ending it first is said, exit 1, or, before the editor sent a byte, handed over to the Node bridge. */
static int acp_relay(void) {
  if (fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) | O_NONBLOCK) < 0) to_node();
  buf up = early_up, down = {0}; // editor → daemon (starting with what the cold start read), daemon → editor
  size_t up_at = 0, down_at = 0, up_sent = 0;
  int stdin_open = !early_stdin_closed, sock_open = 1, half_closed = 0;
  static char chunk[65536];
  for (;;) {
    size_t up_n = up.len - up_at, down_n = down.len - down_at;
    if (!stdin_open && !up_n && !half_closed) {
      shutdown(sock, SHUT_WR); // the editor went away: the daemon's side finishes and ends the link
      half_closed = 1;
    }
    if (!sock_open && !down_n) {
      if (!stdin_open) return 0;
      to_node(); // before the editor sent anything; after, it is said (committed)
    }
    struct pollfd p[3] = {
        {.fd = stdin_open && up_n < RELAY_HELD_MAX ? 0 : -1, .events = POLLIN},
        {.fd = sock_open ? sock : -1,
         .events = (short)((down_n < RELAY_HELD_MAX ? POLLIN : 0) |
                           (up_n && (!answered_id || up_sent < answered_line) ? POLLOUT : 0))},
        {.fd = down_n && !answered_id ? 1 : -1, .events = POLLOUT},
    };
    if (poll(p, 3, -1) < 0) {
      if (errno == EINTR) continue;
      fprintf(stderr, "shadowbox acp: %s\n", strerror(errno));
      return 1;
    }
    if (p[0].revents) {
      ssize_t r = read(0, chunk, sizeof chunk);
      if (r > 0) {
        committed = 1;
        buf_add(&up, chunk, (size_t)r);
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK))
        stdin_open = 0;
    }
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t r = read(sock, chunk, sizeof chunk);
      if (r > 0) {
        buf_add(&down, chunk, (size_t)r);
        if (answered_id) drop_answered(&down);
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        sock_open = 0; // the daemon ended the link: what the editor sent since goes nowhere
        up_at = up.len;
      }
    }
    if (up.len - up_at && (p[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
      size_t n = up.len - up_at;
      if (answered_id && n > answered_line - up_sent) n = answered_line - up_sent;
      ssize_t w = n ? send(sock, up.p + up_at, n, MSG_NOSIGNAL | MSG_DONTWAIT) : 0;
      if (w > 0) up_at += (size_t)w, up_sent += (size_t)w;
      else if (w < 0 && errno != EINTR && errno != EAGAIN) up_at = up.len; // the daemon is gone: said when read
    }
    if (p[2].revents) {
      size_t n = down.len - down_at, room = writable_now(1);
      ssize_t w = write(1, down.p + down_at, n < room ? n : room);
      if (w > 0) down_at += (size_t)w;
      else if (w < 0 && errno == EPIPE) return 0; // the editor closed stdout: it is gone, as for the Node bridge
      else if (w < 0 && errno != EINTR && errno != EAGAIN) return 1;
    }
    // What was passed on is dropped from the front once it is most of the buffer.
    if (up_at && up_at * 2 >= up.len) {
      memmove(up.p, up.p + up_at, up.len - up_at);
      up.len -= up_at;
      up_at = 0;
    }
    if (down_at && down_at * 2 >= down.len) {
      memmove(down.p, down.p + down_at, down.len - down_at);
      down.len -= down_at;
      down_at = 0;
    }
  }
}

/** `acp` with no options: the editor's stdin and stdout relayed byte for byte to the daemon's ACP socket (protocol's
 * acpSocketPath), where the daemon serves it with the ACP bridge, so what runs beside each editor is this process, not
 * a Node one (issue 20: the bridge's memory and its spawn → initialize). No daemon: it starts one, as the Node bridge
 * does, and relays once its ACP socket answers. A daemon without an ACP socket, anything unexpected before that, and
 * the daemon ending the link before the editor sent a byte hand over to the Node bridge. Ends as the Node bridge ends:
 * 0 when the editor closed stdin (once the daemon has finished with it), 1 when the daemon went away (said on
 * stderr). */
static int acp_command(const char *state_dir, const char *socket_path) {
  epipe_exit = 0;
  buf acp = {0};
  buf_str(&acp, socket_path);
  buf_str(&acp, SB_ACP_SOCKET_SUFFIX);
  sock = acp_connect(acp.p);
  if (sock < 0) {
    if (!nobody_there(errno)) to_node();
    int main_fd = unix_connect(socket_path);
    if (main_fd >= 0) to_node(); // a daemon without an ACP socket
    if (!nobody_there(errno)) to_node();
    sock = start_daemon(state_dir, socket_path, acp.p);
  }
  free(acp.p);
  return acp_relay();
}

int main(int argc, char **argv) {
  g_argc = argc;
  g_argv = argv;
  // A closed stdin, stdout or stderr is /dev/null, as Node makes it at its start: else the daemon's socket would take
  // that number, and the program's output would go into it (or stdin be read from it).
  for (int fd = 0; fd <= 2; fd++)
    if (fcntl(fd, F_GETFD) < 0 && errno == EBADF && open("/dev/null", O_RDWR) != fd) return 70;
  const char *off = getenv("SHADOWBOX_LAUNCHER");
  if ((off && !strcmp(off, "0")) || argc < 2) to_node();
  int python = argc >= 2 && !strcmp(argv[1], "python");
  int status = argc == 2 && !strcmp(argv[1], "status");
  int acp = argc == 2 && !strcmp(argv[1], "acp");
  py_input in = {0};
  if (!(python && python_form(argc, argv, &in)) && !status && !acp) to_node();
  for (int i = 1; i < argc; i++)
    if (!utf8_valid(argv[i], strlen(argv[i]))) to_node();

  // resolveStatePaths (daemon/src/state/paths.ts): an empty variable is unset.
  char cwd[4096];
  if (!getcwd(cwd, sizeof cwd) || !utf8_valid(cwd, strlen(cwd))) to_node();
  const char *home = env("HOME");
  const char *explicit_state = env("SHADOWBOX_STATE_DIR");
  if (!home && !explicit_state) to_node();
  char *state_dir = explicit_state ? resolve(cwd, explicit_state) : resolve(cwd, join(home, ".local/state/shadowbox"));
  const char *socket_env = env("SHADOWBOX_SOCKET");
  const char *runtime = env("XDG_RUNTIME_DIR");
  char *socket_path = socket_env       ? resolve(cwd, socket_env)
                      : explicit_state ? join(state_dir, "daemon.sock")
                      : runtime        ? resolve(cwd, join(runtime, "shadowbox/daemon.sock"))
                                       : join(state_dir, "daemon.sock");
  if (!utf8_valid(state_dir, strlen(state_dir)) || !utf8_valid(socket_path, strlen(socket_path))) to_node();
  signal(SIGPIPE, SIG_IGN); // a closed stdout is EPIPE in write_out, as Node sees it
  int rc = python ? python_command(argc, argv, &in, cwd, state_dir, socket_path)
           : acp  ? acp_command(state_dir, socket_path)
                  : status_command(state_dir, socket_path);
  close(sock);
  return rc;
}
