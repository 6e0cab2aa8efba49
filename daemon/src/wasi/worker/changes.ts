// What the guest changed under each view mount, found by comparing the tree with what was loaded:
// removed names, new or moved folders, new or changed files (byte-compared with what was read),
// mode changes, and symlinks (which a view cannot hold; the main thread refuses them).
import type { DirNode, Node } from '../host/memfs.js';
import type { Change } from './protocol.js';

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return (
    a.byteLength === b.byteLength &&
    Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
  );
}

/** Changes under one view mount's root (paths relative to the mount). */
export function collectChanges(mount: number, root: DirNode): Change[] {
  const changes: Change[] = [];
  const isOrigin = (node: { origin: { mount: number; path: string } | null }, p: string): boolean =>
    node.origin !== null && node.origin.mount === mount && node.origin.path === p;

  const walk = (dir: DirNode, prefix: string, fresh: boolean): void => {
    // A folder the guest never listed cannot have changed.
    if (!fresh && !dir.loaded) return;
    const entries = dir.entries;
    if (!fresh && dir.originalNames) {
      for (const name of dir.originalNames)
        if (!entries.has(name) && !dir.pinned.has(name))
          changes.push({ op: 'remove', mount, path: join(prefix, name) });
    }
    for (const [name, node] of entries) {
      if (dir.pinned.has(name)) continue;
      const p = join(prefix, name);
      visit(node, p, fresh, dir);
    }
  };

  const visit = (node: Node, p: string, fresh: boolean, parent: DirNode): void => {
    if (node.kind === 'dir') {
      const moved = fresh || !isOrigin(node, p);
      if (moved) changes.push({ op: 'mkdir', mount, path: p });
      walk(node, p, moved);
      return;
    }
    if (node.kind === 'symlink') {
      if (fresh || !isOrigin(node, p)) changes.push({ op: 'symlink', mount, path: p, target: node.target });
      return;
    }
    const original = !fresh && isOrigin(node, p) && parent.originalNames?.has(p.slice(p.lastIndexOf('/') + 1));
    if (original) {
      if (node.loader !== null && !node.modeChanged) return;
      if (!node.dirty && !node.modeChanged) return;
      if (!node.modeChanged && node.original && sameBytes(node.content(), node.original)) return;
    }
    changes.push({
      op: 'write',
      mount,
      path: p,
      data: node.content().slice(),
      ...(node.modeChanged ? { mode: node.mode } : {}),
    });
  };

  walk(root, '', false);
  return changes;
}

function join(prefix: string, name: string): string {
  return prefix ? `${prefix}/${name}` : name;
}
