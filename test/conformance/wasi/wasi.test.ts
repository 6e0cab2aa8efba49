// The official WASI preview-1 test suite (72 prebuilt tests, vendored in ./suite) through the real
// in-process runner, each compared with its expected outcome in expectations.json.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createWasiRuntime } from '../../../daemon/src/wasi/index.js';
import { listCases, runCase } from './suite.js';

const Expectations = z.object({
  nodeWasiPasses: z.number().int(),
  cases: z.record(z.string(), z.union([z.literal('pass'), z.object({ fail: z.string().min(1) })])),
});
const raw: unknown = JSON.parse(readFileSync(new URL('./expectations.json', import.meta.url), 'utf8'));
const expectations = Expectations.parse(raw);
const cases = await listCases();

describe('wasi-testsuite (preview 1) through the in-process runner', () => {
  const runtime = createWasiRuntime({ wasmtimePath: null });
  afterAll(() => runtime.close());

  it('has an expectation for every test and none for a missing one', () => {
    expect(Object.keys(expectations.cases).sort()).toEqual(cases.map((c) => c.id).sort());
    expect(cases.length).toBe(72);
  });

  for (const c of cases) {
    const want = expectations.cases[c.id];
    it(`${c.id}: ${want === 'pass' ? 'passes' : `fails (${want?.fail})`}`, async () => {
      const r = await runCase(runtime, c);
      if (want === 'pass') expect(r.problems).toEqual([]);
      else expect(r.pass, 'now passes: update expectations.json and docs/wasi.md').toBe(false);
    });
  }
});
