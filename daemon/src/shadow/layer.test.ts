import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { blobOid } from './git.js';
import { LayerStore } from './layer.js';

let top: string;
afterEach(() => rmSync(top, { recursive: true, force: true }));

describe('entriesIn: the layer entries by folder', () => {
  it('follows writes and deletes of entries, and a save that failed and put them back', async () => {
    top = mkdtempSync(path.join(os.tmpdir(), 'sbx-layer-'));
    let fail = false;
    const faults = {
      before() {
        if (fail) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
      },
    };
    const store = await LayerStore.open(path.join(top, 'session'), top, 's1', { faults });
    const dir = { kind: 'dir', base: { type: 'none' }, opaque: false } as const;
    store.m.entries['d'] = dir;
    store.m.entries['d/a'] = dir;
    store.m.entries['d/a/b'] = dir;
    await store.save();
    expect(store.entriesIn('')).toEqual(['d']);
    expect(store.entriesIn('d')).toEqual(['d/a']);
    store.m.entries['d/c'] = dir;
    expect(store.entriesIn('d')).toEqual(['d/a', 'd/c']); // built again with d/c, before the save
    fail = true;
    await expect(store.save()).rejects.toThrow();
    expect(store.entriesIn('d')).toEqual(['d/a']); // the failed save took d/c back out
    fail = false;
    delete store.m.entries['d/a/b'];
    expect(store.entriesIn('d/a')).toEqual([]);
    await store.close();
  });
});

describe('layer object store', () => {
  it('keeps small objects as blobs.dat records, large ones as files, and reads both back exactly', async () => {
    top = mkdtempSync(path.join(os.tmpdir(), 'sbx-layer-'));
    const dir = path.join(top, 'session');
    const store = await LayerStore.open(dir, top, 's1');
    const small = Buffer.from('small\n');
    const large = Buffer.alloc(200 * 1024, 7);
    const a = await store.putBytes(small);
    const b = await store.putBytes(large);
    expect(await store.putBytes(Buffer.from('small\n'))).toBe(a);
    expect(store.isInline(a)).toBe(true);
    expect(store.isInline(b)).toBe(false);
    expect(readdirSync(path.join(dir, 'objects'))).toEqual([b]);
    expect(statSync(path.join(dir, 'blobs.dat')).size).toBe(28 + small.byteLength);
    expect(await store.readObject(a)).toEqual(small);
    expect(await store.readObject(b)).toEqual(large);
    expect(await store.objectSource(a)).toEqual({ bytes: small });
    // Tools that need a path get the record copied out once.
    const file = await store.objectFile(a);
    expect(path.basename(file)).toBe(a);
    expect(statSync(file).size).toBe(small.byteLength);
    await store.close();
  });

  it('finds records written after the last save (a crash before the manifest line) and cuts a torn tail', async () => {
    top = mkdtempSync(path.join(os.tmpdir(), 'sbx-layer-'));
    const dir = path.join(top, 'session');
    const first = await LayerStore.open(dir, top, 's1');
    const saved = await first.putBytes(Buffer.from('saved\n'));
    await first.save();
    const unsaved = await first.putBytes(Buffer.from('not in the manifest yet\n'));
    await first.close();
    // A record torn by the crash: header and half its bytes.
    const torn = Buffer.from('torn record bytes\n');
    const head = Buffer.alloc(28);
    head.writeUInt32BE(0x53425831, 0);
    head.writeUInt32BE(torn.byteLength, 4);
    head.write(blobOid(torn), 8, 'hex');
    appendFileSync(path.join(dir, 'blobs.dat'), Buffer.concat([head, torn.subarray(0, 5)]));
    const goodEnd = 2 * 28 + 'saved\n'.length + 'not in the manifest yet\n'.length;

    const second = await LayerStore.open(dir, top, 's1');
    expect((await second.readObject(saved)).toString()).toBe('saved\n');
    expect((await second.readObject(unsaved)).toString()).toBe('not in the manifest yet\n');
    expect(second.isInline(blobOid(torn))).toBe(false);
    expect(statSync(path.join(dir, 'blobs.dat')).size).toBe(goodEnd);
    const next = await second.putBytes(Buffer.from('after the crash\n'));
    await second.save();
    await second.close();

    const third = await LayerStore.open(dir, top, 's1');
    expect((await third.readObject(next)).toString()).toBe('after the crash\n');
    expect((await third.readObject(unsaved)).toString()).toBe('not in the manifest yet\n');
    await third.close();
  });
});
