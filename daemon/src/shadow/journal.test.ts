// The accept journal: `done` replaces the record whole, and a record that does not parse is reported, never
// skipped silently by recovery.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Journal, type AcceptRecord } from './journal.js';

const record = (id: string, state: AcceptRecord['state']): AcceptRecord => ({
  id,
  state,
  time: new Date(0).toISOString(),
  by: 'test',
  force: false,
  temps: [],
  files: [],
});

describe('accept journal', () => {
  it('a done record replaces the applied one whole; an unparsable record is reported, not skipped silently', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sbx-journal-'));
    const unreadable: string[] = [];
    const j = new Journal(dir, undefined, (f) => unreadable.push(f));
    await j.write(record('acc-1', 'applied'));
    expect((await j.unfinished()).map((r) => r.id)).toEqual(['acc-1']);
    await j.write(record('acc-1', 'done'), { durable: false });
    expect(JSON.parse(readFileSync(path.join(dir, 'acc-1.json'), 'utf8'))).toMatchObject({ state: 'done' });
    expect(await j.unfinished()).toEqual([]);
    writeFileSync(path.join(dir, 'acc-2.json'), '');
    expect(await j.unfinished()).toEqual([]);
    expect(unreadable).toEqual([path.join(dir, 'acc-2.json')]);
  });

  it('makes its folder once, and again when something removed it since', async () => {
    const top = mkdtempSync(path.join(os.tmpdir(), 'sbx-journal-'));
    const dir = path.join(top, 'accepts');
    const j = new Journal(dir);
    await j.write(record('acc-1', 'pending'));
    rmSync(dir, { recursive: true });
    await j.write(record('acc-1', 'applied'));
    expect(JSON.parse(readFileSync(path.join(dir, 'acc-1.json'), 'utf8'))).toMatchObject({ state: 'applied' });
    expect(readdirSync(dir)).toEqual(['acc-1.json']);
    rmSync(top, { recursive: true });
  });
});
