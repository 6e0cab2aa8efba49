import { describe, expect, it, vi } from 'vitest';
import type * as Zod from 'zod';

// The daemon's modules build no zod schema when they are imported: each is declared with lazySchema (or a tool's
// `input` as a function) and built on first use. zod builds a schema eagerly: building them at import was most of the
// ~40 ms by which module initialisation before ready shrank (docs/benchmarks.md, run 34). This counts every call of a
// `z.*` factory (z.object, z.string, …; each chain starts with one) while the daemon command's whole static import
// graph loads, the protocol's included.
const calls = vi.hoisted(() => ({ count: 0, names: new Set<string>() }));

vi.mock('zod', async (importOriginal) => {
  const m = await importOriginal<typeof Zod>();
  const z = new Proxy(m.z, {
    get(target, key, receiver) {
      const v: unknown = Reflect.get(target, key, receiver);
      // Only the factories (lower-case functions); classes such as z.ZodType stay as they are for instanceof.
      if (typeof v !== 'function' || typeof key !== 'string' || !/^[a-z]/.test(key)) return v;
      const f = v as (...args: unknown[]) => unknown;
      return (...args: unknown[]) => {
        calls.count++;
        calls.names.add(key);
        return f.apply(target, args);
      };
    },
  });
  return { ...m, z };
});

describe("the daemon's schemas are built on first use", () => {
  it('importing the daemon command (the whole daemon) calls no zod factory; a tool builds its schema when read', async () => {
    const mod = await import('./cli/daemon-command.js');
    expect(typeof mod.daemonCommand).toBe('function');
    expect([...calls.names]).toEqual([]);
    expect(calls.count).toBe(0);

    // The counter sees a build: reading a built-in tool's input builds its schema, once.
    const { createReadFileTool } = await import('./tools/builtin/read-file.js');
    const tool = createReadFileTool();
    expect(calls.count).toBe(0);
    const schema = tool.input;
    const after = calls.count;
    expect(after).toBeGreaterThan(0);
    expect(tool.input).toBe(schema);
    expect(calls.count).toBe(after);
    expect(schema.safeParse({ path: 'a.ts' }).success).toBe(true);
    expect(schema.safeParse({ path: '' }).success).toBe(false);
  });
});
