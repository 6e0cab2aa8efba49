import { fileURLToPath } from 'node:url';

/** Absolute path of the built page (`clients/web/dist`), which the daemon serves. */
export function webDistDir(): string {
  return fileURLToPath(new URL('../dist/', import.meta.url));
}
