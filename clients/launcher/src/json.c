// The launcher's JSON reader and string writer: see json.h for why it is not a library.
#include "json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 512

static void *xalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) abort();
  return p;
}

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) abort();
  return q;
}

void buf_add(buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
}

void buf_str(buf *b, const char *s) { buf_add(b, s, strlen(s)); }

void buf_json_string(buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  buf_add(b, "\"", 1);
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    buf_add(b, s + run, i - run);
    run = i + 1;
    char esc[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
    if (c == '"') buf_add(b, "\\\"", 2);
    else if (c == '\\') buf_add(b, "\\\\", 2);
    else if (c == '\n') buf_add(b, "\\n", 2);
    else if (c == '\t') buf_add(b, "\\t", 2);
    else if (c == '\r') buf_add(b, "\\r", 2);
    else buf_add(b, esc, 6);
  }
  buf_add(b, s + run, n - run);
  buf_add(b, "\"", 1);
}

/** The UTF-8 sequence at s (n > 0 bytes left), by the Encoding Standard's decoder: 1 and its length when it is
 * well-formed (no overlong form, no surrogate, nothing past U+10FFFF), else 0 and the length of its maximal invalid
 * subpart (what one U+FFFD stands for). One reading serves the check and the decoder below. */
static int utf8_next(const unsigned char *s, size_t n, size_t *len) {
  unsigned b = s[0], lower = 0x80, upper = 0xbf;
  size_t need;
  if (b <= 0x7f) need = 0;
  else if (b >= 0xc2 && b <= 0xdf) need = 1;
  else if (b >= 0xe0 && b <= 0xef) need = 2, lower = b == 0xe0 ? 0xa0 : 0x80, upper = b == 0xed ? 0x9f : 0xbf;
  else if (b >= 0xf0 && b <= 0xf4) need = 3, lower = b == 0xf0 ? 0x90 : 0x80, upper = b == 0xf4 ? 0x8f : 0xbf;
  else {
    *len = 1;
    return 0;
  }
  for (size_t k = 1; k <= need; k++, lower = 0x80, upper = 0xbf)
    if (k >= n || s[k] < lower || s[k] > upper) {
      *len = k;
      return 0;
    }
  *len = need + 1;
  return 1;
}

int utf8_valid(const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  for (size_t i = 0, len; i < n; i += len)
    if (!utf8_next(s + i, n - i, &len)) return 0;
  return 1;
}

/** Buffer.prototype.toString('utf8') of bytes: the Encoding Standard's decoder, each maximal invalid subpart as
 * U+FFFD (what V8 does), so the text the daemon gets is the text Node would send. */
void utf8_decode(buf *out, const unsigned char *s, size_t n) {
  for (size_t i = 0, len; i < n; i += len) {
    if (utf8_next(s + i, n - i, &len)) buf_add(out, (const char *)s + i, len);
    else buf_add(out, "\xef\xbf\xbd", 3);
  }
}

typedef struct {
  const char *p, *end;
  int depth;
} parser;

static void ws(parser *ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static jv *node(jtype t) {
  jv *v = xalloc(sizeof *v);
  memset(v, 0, sizeof *v);
  v->t = t;
  return v;
}

static void put_utf8(buf *b, uint32_t cp) {
  char o[4];
  size_t n;
  if (cp < 0x80) o[0] = (char)cp, n = 1;
  else if (cp < 0x800) o[0] = (char)(0xc0 | cp >> 6), o[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
  else if (cp < 0x10000)
    o[0] = (char)(0xe0 | cp >> 12), o[1] = (char)(0x80 | ((cp >> 6) & 0x3f)), o[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
  else
    o[0] = (char)(0xf0 | cp >> 18), o[1] = (char)(0x80 | ((cp >> 12) & 0x3f)), o[2] = (char)(0x80 | ((cp >> 6) & 0x3f)),
    o[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
  buf_add(b, o, n);
}

static int hex4(const char *p, const char *end, uint32_t *out) {
  if (end - p < 4) return 0;
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
    else return 0;
  }
  *out = v;
  return 1;
}

// A string literal (ps->p at the opening quote). A lone surrogate becomes U+FFFD, as Node writes it.
static jv *string(parser *ps) {
  buf b = {0};
  buf_add(&b, "", 0);
  ps->p++;
  for (;;) {
    if (ps->p >= ps->end) return NULL;
    unsigned char c = (unsigned char)*ps->p;
    if (c == '"') break;
    if (c < 0x20) return NULL;
    if (c != '\\') {
      const char *start = ps->p;
      while (ps->p < ps->end && *ps->p != '"' && *ps->p != '\\' && (unsigned char)*ps->p >= 0x20) ps->p++;
      buf_add(&b, start, (size_t)(ps->p - start));
      continue;
    }
    if (++ps->p >= ps->end) return NULL;
    char e = *ps->p++;
    switch (e) {
    case '"': buf_add(&b, "\"", 1); break;
    case '\\': buf_add(&b, "\\", 1); break;
    case '/': buf_add(&b, "/", 1); break;
    case 'b': buf_add(&b, "\b", 1); break;
    case 'f': buf_add(&b, "\f", 1); break;
    case 'n': buf_add(&b, "\n", 1); break;
    case 'r': buf_add(&b, "\r", 1); break;
    case 't': buf_add(&b, "\t", 1); break;
    case 'u': {
      uint32_t u;
      if (!hex4(ps->p, ps->end, &u)) return NULL;
      ps->p += 4;
      if (u >= 0xd800 && u <= 0xdbff) {
        uint32_t lo;
        if (ps->end - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u' && hex4(ps->p + 2, ps->end, &lo) &&
            lo >= 0xdc00 && lo <= 0xdfff) {
          ps->p += 6;
          u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
        } else u = 0xfffd;
      } else if (u >= 0xdc00 && u <= 0xdfff) u = 0xfffd;
      put_utf8(&b, u);
      break;
    }
    default: return NULL;
    }
  }
  ps->p++;
  jv *v = node(J_STR);
  v->s = b.p;
  v->len = b.len;
  return v;
}

static int digits(parser *ps) {
  const char *start = ps->p;
  while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
  return ps->p > start;
}

static jv *number(parser *ps) {
  const char *start = ps->p;
  if (*ps->p == '-') ps->p++;
  if (ps->p < ps->end && *ps->p == '0') ps->p++;
  else if (!digits(ps)) return NULL;
  if (ps->p < ps->end && *ps->p == '.') {
    ps->p++;
    if (!digits(ps)) return NULL;
  }
  if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
    ps->p++;
    if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-')) ps->p++;
    if (!digits(ps)) return NULL;
  }
  size_t n = (size_t)(ps->p - start);
  char tmp[64];
  char *copy = n < sizeof tmp ? tmp : xalloc(n + 1);
  memcpy(copy, start, n);
  copy[n] = 0;
  jv *v = node(J_NUM);
  v->num = strtod(copy, NULL);
  if (copy != tmp) free(copy);
  return v;
}

static int word(parser *ps, const char *w) {
  size_t n = strlen(w);
  if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n)) return 0;
  ps->p += n;
  return 1;
}

static jv *value(parser *ps);

static void push(jv *v, jv *key, jv *item) {
  v->items = xrealloc(v->items, (v->n + 1) * sizeof *v->items);
  if (key) v->keys = xrealloc(v->keys, (v->n + 1) * sizeof *v->keys), v->keys[v->n] = key;
  v->items[v->n++] = item;
}

static jv *container(parser *ps, char close) {
  if (++ps->depth > MAX_DEPTH) return NULL;
  jv *v = node(close == '}' ? J_OBJ : J_ARR);
  ps->p++;
  ws(ps);
  if (ps->p < ps->end && *ps->p == close) {
    ps->p++;
    ps->depth--;
    return v;
  }
  for (;;) {
    jv *key = NULL;
    if (close == '}') {
      ws(ps);
      if (ps->p >= ps->end || *ps->p != '"' || !(key = string(ps))) return NULL;
      ws(ps);
      if (ps->p >= ps->end || *ps->p++ != ':') return NULL;
    }
    jv *item = value(ps);
    if (!item) return NULL;
    push(v, key, item);
    ws(ps);
    if (ps->p >= ps->end) return NULL;
    char c = *ps->p++;
    if (c == close) break;
    if (c != ',') return NULL;
  }
  ps->depth--;
  return v;
}

static jv *value(parser *ps) {
  ws(ps);
  if (ps->p >= ps->end) return NULL;
  char c = *ps->p;
  if (c == '{') return container(ps, '}');
  if (c == '[') return container(ps, ']');
  if (c == '"') return string(ps);
  if (c == '-' || (c >= '0' && c <= '9')) return number(ps);
  jv *v;
  if (word(ps, "true")) v = node(J_BOOL), v->b = 1;
  else if (word(ps, "false")) v = node(J_BOOL);
  else if (word(ps, "null")) v = node(J_NULL);
  else return NULL;
  return v;
}

jv *json_parse(const char *text, size_t len) {
  parser ps = {text, text + len, 0};
  jv *v = value(&ps);
  if (!v) return NULL;
  ws(&ps);
  return ps.p == ps.end ? v : NULL;
}

jv *json_get(const jv *obj, const char *key) {
  if (!obj || obj->t != J_OBJ) return NULL;
  size_t n = strlen(key);
  for (size_t i = obj->n; i-- > 0;)
    if (obj->keys[i]->len == n && !memcmp(obj->keys[i]->s, key, n)) return obj->items[i];
  return NULL;
}
