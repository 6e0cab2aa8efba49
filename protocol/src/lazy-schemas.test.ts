import { describe, expect, it, vi } from 'vitest';

// Every process that talks to a daemon imports the protocol: importing it must build no schema (define.ts,
// lazySchema). Each test imports a fresh copy of the modules, so the counter starts from the import.
async function freshProtocol() {
  vi.resetModules();
  return import('./index.js');
}

const isSchema = (v: unknown) => typeof v === 'object' && v !== null && '_zod' in v;

describe('protocol schemas are built on first use', () => {
  it('importing the protocol builds no schema, and no export is a built schema', async () => {
    const p = await freshProtocol();
    expect(p.schemaBuilds.count).toBe(0);
    const built = Object.entries(p).filter(([, v]) => isSchema(v));
    expect(built.map(([k]) => k)).toEqual([]);
    // Reading what a client reads to send a request (method, type) builds nothing either.
    for (const m of p.allMessages) expect(typeof m.method).toBe('string');
    expect(p.DaemonStatus.type.method).toBe('daemon/status');
    expect(p.schemaBuilds.count).toBe(0);
  });

  it("a definition's params and result are built once, on first read, and are then the same schema", async () => {
    const p = await freshProtocol();
    const params = p.SessionCreate.params;
    expect(isSchema(params)).toBe(true);
    const afterParams = p.schemaBuilds.count;
    // SessionCreate's params use PolicyMode and McpServers (and McpServers McpServerSpec): built with it.
    expect(afterParams).toBeGreaterThanOrEqual(4);
    expect(p.SessionCreate.params).toBe(params);
    expect(p.schemaBuilds.count).toBe(afterParams);
    expect(p.SessionCreate.params.safeParse({ workspace: '/w', mode: 'auto' }).success).toBe(true);
    expect(p.SessionCreate.params.safeParse({ workspace: '/w', mode: 'nope' }).success).toBe(false);
    // The result (SessionInfo) was not needed yet.
    const result = p.SessionCreate.result;
    expect(p.schemaBuilds.count).toBeGreaterThan(afterParams);
    expect(p.SessionInfo()).toBe(result);
  });

  it('a named schema is built once and shared by every definition that uses it', async () => {
    const p = await freshProtocol();
    const mode = p.PolicyMode();
    expect(p.PolicyMode()).toBe(mode);
    expect(mode.options).toEqual(['read-only', 'review', 'auto']);
    expect(p.SessionInfo().shape.mode).toBe(mode);
  });

  it('every message of the protocol has zod schemas once read', async () => {
    const p = await freshProtocol();
    for (const m of p.allMessages) {
      expect(isSchema(m.params), m.method).toBe(true);
      if (m.kind === 'request') expect(isSchema(m.result), m.method).toBe(true);
    }
  });
});
