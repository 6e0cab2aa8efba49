// vitest globalSetup: end-to-end tests start daemon/bin/shadowbox.js, which runs the bundled CLI
// (dist/bundle/shadowbox.cjs). Rebuild it from the sources first when any of them is newer, so the
// tests never run a stale bundle (esbuild, ~2 s; nothing when it is fresh).
import { bundle, bundleIsStale } from './bundle.mjs';

export default async function setup() {
  if (bundleIsStale()) await bundle();
}
