// A small JSON reader and string writer for the launcher (launcher.c). Why not a library: the well-kept C ones
// Debian carries (cJSON 1.7.15, jansson 2.14) both refuse a lone UTF-16 surrogate escape ("\ud800"), which
// JSON.stringify writes for a JS string that has one, and cJSON ends every string at an embedded NUL ("\u0000").
// The launcher must print exactly what Node's client prints for the same answer: NULs kept, and a lone surrogate
// as U+FFFD (what Node writes for it). json.test.ts checks this reader against JSON.parse on generated documents.
#ifndef SHADOWBOX_JSON_H
#define SHADOWBOX_JSON_H

#include <stddef.h>

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype;

typedef struct jv {
  jtype t;
  int b;          // J_BOOL
  double num;     // J_NUM
  char *s;        // J_STR: UTF-8 bytes (may hold NULs), NUL-terminated for convenience
  size_t len;     // J_STR: byte length
  size_t n;       // J_ARR, J_OBJ: how many items
  struct jv **items;
  struct jv **keys; // J_OBJ: each a J_STR, beside items[i]
} jv;

/** Parses a whole document (nothing but whitespace after it); NULL on any syntax error or past 512 levels. */
jv *json_parse(const char *text, size_t len);

/** The value of an object's key (the last one, as JSON.parse keeps), or NULL. */
jv *json_get(const jv *obj, const char *key);

/** A growable byte buffer. */
typedef struct {
  char *p;
  size_t len, cap;
} buf;

void buf_add(buf *b, const char *s, size_t n);
void buf_str(buf *b, const char *s);
/** Appends s (valid UTF-8, checked by the caller) as a JSON string literal, quotes included. */
void buf_json_string(buf *b, const char *s, size_t n);

/** Appends bytes decoded as Buffer.prototype.toString('utf8') decodes them: each maximal invalid run as U+FFFD. */
void utf8_decode(buf *out, const unsigned char *s, size_t n);

/** Whether s is well-formed UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF). */
int utf8_valid(const char *s, size_t n);

#endif
