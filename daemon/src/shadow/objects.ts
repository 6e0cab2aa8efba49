import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { createDeflate, deflateSync } from 'node:zlib';
import { gitMode } from './git.js';
import type { Blob } from './layer.js';

/**
 * Writes git objects (loose, zlib) and refs of the shadow repository directly: a checkpoint then
 * costs no process spawns. The repository stays a plain git repository (`git fsck` clean); trees
 * are rebuilt from the session's touched paths only, so the cost follows the number of touched
 * files, never the size of the workspace.
 */
export class ObjectWriter {
  constructor(readonly repoDir: string) {}

  private file(oid: string): string {
    return path.join(this.repoDir, 'objects', oid.slice(0, 2), oid.slice(2));
  }

  private async has(oid: string): Promise<boolean> {
    return stat(this.file(oid)).then(
      () => true,
      () => false,
    );
  }

  private async put(type: string, data: Buffer): Promise<string> {
    const header = Buffer.from(`${type} ${data.byteLength}\0`);
    const oid = createHash('sha1').update(header).update(data).digest('hex');
    if (!(await this.has(oid))) await this.writeLoose(oid, deflateSync(Buffer.concat([header, data])));
    return oid;
  }

  private async writeLoose(oid: string, deflated: Buffer | null, source?: Readable): Promise<void> {
    const file = this.file(oid);
    await mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    if (deflated) await writeFile(tmp, deflated, { mode: 0o444 });
    else await pipeline(source!, createDeflate(), createWriteStream(tmp, { mode: 0o444 }));
    await rename(tmp, file).catch(async (e) => {
      await rm(tmp, { force: true });
      if (!(await this.has(oid))) throw e;
    });
  }

  /** Copies a stored blob (a layer object file whose name is its blob id) into the repository. */
  async putBlobFile(oid: string, src: string): Promise<void> {
    if (await this.has(oid)) return;
    const st = await stat(src);
    if (st.size <= 1024 * 1024) {
      await this.writeLoose(oid, deflateSync(Buffer.concat([Buffer.from(`blob ${st.size}\0`), await readFile(src)])));
      return;
    }
    const header = Readable.from([Buffer.from(`blob ${st.size}\0`)]);
    async function* both() {
      for await (const c of header) yield c as Buffer;
      for await (const c of createReadStream(src)) yield c as Buffer;
    }
    await this.writeLoose(oid, null, Readable.from(both()));
  }

  /** Writes the tree of a set of paths (path → blob) and returns its id. */
  async putTree(files: Record<string, Blob>): Promise<string> {
    type Dir = Map<string, Dir | Blob>;
    const top: Dir = new Map();
    for (const [p, b] of Object.entries(files)) {
      const parts = p.split('/');
      let d = top;
      for (const part of parts.slice(0, -1)) {
        let next = d.get(part);
        if (!(next instanceof Map)) d.set(part, (next = new Map()));
        d = next;
      }
      d.set(parts.at(-1)!, b);
    }
    const write = async (d: Dir): Promise<string> => {
      const entries: { name: string; key: string; mode: string; oid: string }[] = [];
      for (const [name, v] of d) {
        if (v instanceof Map) entries.push({ name, key: `${name}/`, mode: '40000', oid: await write(v) });
        else entries.push({ name, key: name, mode: gitMode(v.type, v.mode), oid: v.oid });
      }
      // Git orders tree entries by name bytes, a directory as if its name ended in "/".
      entries.sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
      const body = Buffer.concat(entries.flatMap((e) => [Buffer.from(`${e.mode} ${e.name}\0`), Buffer.from(e.oid, 'hex')]));
      return this.put('tree', body);
    };
    return write(top);
  }

  async putCommit(tree: string, parent: string | null, message: string, when = new Date()): Promise<string> {
    const ts = `${Math.floor(when.getTime() / 1000)} +0000`;
    const who = `shadowbox <shadowbox@localhost> ${ts}`;
    const text = `tree ${tree}\n${parent ? `parent ${parent}\n` : ''}author ${who}\ncommitter ${who}\n\n${message}`;
    return this.put('commit', Buffer.from(text));
  }

  /** Points a ref at a commit (a loose ref file, replaced atomically). */
  async setRef(ref: string, oid: string): Promise<void> {
    const file = path.join(this.repoDir, ref);
    await mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, `${oid}\n`);
    await rename(tmp, file);
  }
}

/** Creates a bare repository by hand (what `git init --bare` writes that git needs). */
export async function initBareRepo(repoDir: string): Promise<void> {
  try {
    await stat(path.join(repoDir, 'HEAD'));
    return;
  } catch {
    // create below
  }
  for (const d of ['objects/info', 'objects/pack', 'refs/heads', 'refs/tags']) await mkdir(path.join(repoDir, d), { recursive: true });
  await writeFile(path.join(repoDir, 'config'), '[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n[gc]\n\tauto = 0\n');
  await writeFile(path.join(repoDir, 'description'), 'shadowbox shadow history\n');
  await writeFile(path.join(repoDir, 'HEAD'), 'ref: refs/heads/main\n');
}
