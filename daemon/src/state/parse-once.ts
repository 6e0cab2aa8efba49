/**
 * Parse options for a schema that checks a file read once or a few times (a bundle manifest, a state
 * file, config.json, the lock). zod 4 compiles a fast parser for each object schema on its first parse
 * (`new Function`, ~1 ms per schema, 15 ms for a manifest's); that pays only for schemas parsed again
 * and again (wire messages). For these, the interpreted parse is faster overall and checks the same
 * rules. Measured at daemon start: `bench/start.mjs`, docs/benchmarks.md.
 */
export const ONCE = { jitless: true } as const;
