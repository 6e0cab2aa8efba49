// A harness for json.test.ts: reads a JSON document on stdin with the launcher's reader (src/json.c) and writes
// it back as JSON (strings through its writer), or exits 1 when the reader refuses it. With --utf8 it writes stdin's
// bytes decoded as the launcher decodes piped input (utf8_decode); with --valid, whether they are well-formed
// UTF-8 (utf8_valid). Not part of the launcher.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static void emit(buf *o, const jv *v) {
  char tmp[40];
  switch (v->t) {
  case J_NULL: buf_str(o, "null"); break;
  case J_BOOL: buf_str(o, v->b ? "true" : "false"); break;
  case J_NUM: snprintf(tmp, sizeof tmp, "%.17g", v->num), buf_str(o, tmp); break;
  case J_STR: buf_json_string(o, v->s, v->len); break;
  case J_ARR:
  case J_OBJ:
    buf_str(o, v->t == J_ARR ? "[" : "{");
    for (size_t i = 0; i < v->n; i++) {
      if (i) buf_str(o, ",");
      if (v->t == J_OBJ) emit(o, v->keys[i]), buf_str(o, ":");
      emit(o, v->items[i]);
    }
    buf_str(o, v->t == J_ARR ? "]" : "}");
  }
}

int main(int argc, char **argv) {
  buf in = {0};
  char chunk[65536];
  size_t n;
  buf_add(&in, "", 0);
  while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0) buf_add(&in, chunk, n);
  if (argc > 1 && !strcmp(argv[1], "--valid")) {
    fputs(utf8_valid(in.p, in.len) ? "valid" : "invalid", stdout);
    return 0;
  }
  if (argc > 1 && !strcmp(argv[1], "--utf8")) {
    buf out = {0};
    buf_add(&out, "", 0);
    utf8_decode(&out, (const unsigned char *)in.p, in.len);
    fwrite(out.p, 1, out.len, stdout);
    return 0;
  }
  jv *v = json_parse(in.p, in.len);
  if (!v) return 1;
  buf out = {0};
  buf_add(&out, "", 0);
  emit(&out, v);
  fwrite(out.p, 1, out.len, stdout);
  return 0;
}
