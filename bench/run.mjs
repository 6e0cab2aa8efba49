// `npm run bench [-- NAME ...]`: runs every bench/<name>.mjs (or the named ones), prints one table,
// and writes bench/results/<name>.json plus bench/results/all.json. Each module exports
// `run() → { name, rows: [{ metric, value, unit, baseline?, ratio?, note? }] }`.
import { readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';

const dir = new URL('.', import.meta.url);
const wanted = process.argv.slice(2);
const names = readdirSync(dir)
  .filter((f) => f.endsWith('.mjs') && f !== 'run.mjs')
  .map((f) => f.replace(/\.mjs$/, ''))
  .filter((n) => wanted.length === 0 || wanted.includes(n))
  .sort();
mkdirSync(new URL('results/', dir), { recursive: true });
// NODE_EXTRA_CA_CERTS makes every Node process read and parse that file before running any code: ~45 ms
// of each start on the machines these figures were first taken on (`node -e ''` 60–80 ms with it, 20–27
// without), added alike to both sides of every row that compares a Node command with `node -e ''`, which
// flattered those ratios. The benches run as a person without it runs: the variable is removed for every
// process they start, unless BENCH_KEEP_NODE_EXTRA_CA_CERTS=1 (the figures as such a machine sees them).
// The benches' model servers are plain HTTP on loopback: nothing they do needs the extra certificates.
const removedEnv = [];
if (process.env.NODE_EXTRA_CA_CERTS !== undefined && process.env.BENCH_KEEP_NODE_EXTRA_CA_CERTS !== '1') {
  delete process.env.NODE_EXTRA_CA_CERTS;
  removedEnv.push('NODE_EXTRA_CA_CERTS');
  console.log('bench: NODE_EXTRA_CA_CERTS removed for the processes the benches start (see bench/run.mjs)');
}
const machine = {
  node: process.version,
  cpus: os.cpus().length,
  cpu: os.cpus()[0]?.model,
  memGiB: Math.round(os.totalmem() / 2 ** 30),
  date: new Date().toISOString(),
  removedEnv,
};
const all = [];
// Modules that threw: the run says so at the end and exits 1 (a module that returns `error` itself, as grep does
// without rg, is skipped for a reason it gives, not failed). A failure printed among the tables went unseen once:
// `terminal` threw on every run from 0f2a552 (2 December) until it was seen here.
const failed = [];
const fmt = (v) =>
  typeof v === 'number'
    ? Math.abs(v) >= 100
      ? v.toFixed(0)
      : Math.abs(v) >= 1
        ? v.toFixed(2)
        : v.toFixed(4)
    : String(v ?? '');
for (const name of names) {
  const started = Date.now();
  let result;
  try {
    const mod = await import(new URL(`${name}.mjs`, dir));
    result = await mod.run();
  } catch (e) {
    result = { name, error: String(e?.stack ?? e), rows: [] };
    failed.push(name);
    console.error(`bench ${name} failed: ${result.error}`);
  }
  result.seconds = (Date.now() - started) / 1000;
  result.machine = machine;
  writeFileSync(new URL(`results/${name}.json`, dir), JSON.stringify(result, null, 2));
  all.push(result);
  console.log(`\n## ${name} (${result.seconds.toFixed(1)} s)`);
  console.log('| metric | value | unit | baseline | ratio | note |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const r of result.rows)
    console.log(
      `| ${r.metric} | ${fmt(r.value)} | ${r.unit ?? ''} | ${fmt(r.baseline)} | ${r.ratio !== undefined ? fmt(r.ratio) + '×' : ''} | ${r.note ?? ''} |`,
    );
}
writeFileSync(new URL('results/all.json', dir), JSON.stringify({ machine, results: all }, null, 2));
if (failed.length > 0) {
  console.error(`\nbench: ${failed.length} module(s) failed: ${failed.join(', ')} (their errors are above)`);
  process.exitCode = 1;
}
