// The floor under the daemon's ready line that no daemon code can remove: Node starts, then the daemon's bundle is
// read and compiled from its V8 code cache exactly as `shadowbox daemon` loads it (dist/bundle/loader.cjs, the key
// 'daemon', the cache folder of $SHADOWBOX_CACHE_DIR) and its top-level code runs; `main` is not called (no state dir,
// no lock, no wiring, no listening). argv[2]: the bin whose bundle to load. bench/start.mjs times it against
// `node -e ''` beside the ready row. CommonJS so Node loads no ES module, as the bin does.
'use strict';
const path = require('node:path');

const dist = path.resolve(path.dirname(process.argv[2]), '..', 'dist', 'bundle');
const { loadBundle, defaultCacheDir } = require(path.join(dist, 'loader.cjs'));
const loaded = loadBundle({
  bundleFile: path.join(dist, 'shadowbox.cjs'),
  cacheDir: defaultCacheDir(process.env),
  key: 'daemon',
});
if (typeof loaded.exports.main !== 'function') throw new Error('the bundle exports no main');
// A miss or a rejection would time a compile, not the floor: fail, and leave the daemon's cache alone (the loader would
// save this load's smaller cache over it at exit).
if (loaded.cache !== 'hit') {
  process.removeAllListeners('exit');
  process.stderr.write(
    `bundle-floor: code cache ${loaded.cache}: start the daemon once with this cache folder first\n`,
  );
  process.exitCode = 1;
}
