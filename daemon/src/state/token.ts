import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';

/** A fresh random per-daemon token, written 0600 (temp + rename, never world-readable in between). */
export async function writeToken(tokenFile: string): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  const tmp = `${tokenFile}.${process.pid}.tmp`;
  await writeFile(tmp, `${token}\n`, { mode: 0o600 });
  await rename(tmp, tokenFile);
  return token;
}

/** Reads the token a running daemon wrote; null when absent. */
export async function readToken(tokenFile: string): Promise<string | null> {
  const text = await readFile(tokenFile, 'utf8').catch(() => null);
  return text?.trim() || null;
}
