/* Single-threaded stand-ins for the few pthread calls jq 1.6 makes (WASI preview 1 has no threads). */
#ifndef SHADOWBOX_WASI_PTHREAD_SHIM_H
#define SHADOWBOX_WASI_PTHREAD_SHIM_H
typedef int pthread_once_t;
typedef unsigned pthread_key_t;
#define PTHREAD_ONCE_INIT 0
#define SHADOWBOX_PTHREAD_KEYS 8
static void *shadowbox_pthread_values[SHADOWBOX_PTHREAD_KEYS];
static unsigned shadowbox_pthread_next_key;
static inline int pthread_once(pthread_once_t *once, void (*fn)(void)) {
  if (!*once) { *once = 1; fn(); }
  return 0;
}
static inline int pthread_key_create(pthread_key_t *key, void (*dtor)(void *)) {
  (void)dtor;
  if (shadowbox_pthread_next_key >= SHADOWBOX_PTHREAD_KEYS) return 11; /* EAGAIN */
  *key = shadowbox_pthread_next_key++;
  return 0;
}
static inline void *pthread_getspecific(pthread_key_t key) {
  return key < SHADOWBOX_PTHREAD_KEYS ? shadowbox_pthread_values[key] : 0;
}
static inline int pthread_setspecific(pthread_key_t key, const void *value) {
  if (key >= SHADOWBOX_PTHREAD_KEYS) return 22; /* EINVAL */
  shadowbox_pthread_values[key] = (void *)value;
  return 0;
}
#endif
