// Runs the whole vitest suite and ends with one plain summary line ("N passed, N failed, N skipped")
// that CI reads; the exit code is vitest's.
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

mkdirSync('test-results', { recursive: true });
const out = 'test-results/vitest.json';
const args = [
  'vitest',
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${out}`,
  ...process.argv.slice(2),
];
// The run's temporary files go in one folder of its own (TMPDIR), removed when the run ends. The tests, the daemons
// and clients they start and a test killed midway left ~300 folders (1.1 GB) in /tmp per run, for good. The folder
// is made as /tmp is (sticky, writable by all): tests run sandboxes as `nobody` in folders they make there.
const tmp = mkdtempSync(path.join(os.tmpdir(), 'sbt-'));
chmodSync(tmp, 0o1777);
const child = spawn('npx', args, { stdio: 'inherit', env: { ...process.env, TMPDIR: tmp } });
child.on('exit', (code) => {
  try {
    rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
  } catch (e) {
    console.error(`could not remove the run's temporary folder ${tmp}: ${e.message}`);
  }
  let summary = 'no results';
  try {
    const r = JSON.parse(readFileSync(out, 'utf8'));
    const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
    summary = `${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`;
    if (r.numTotalTests === 0) code = code || 1;
  } catch {
    code = code || 1;
  }
  console.log(`\nTests: ${summary}`);
  process.exit(code ?? 1);
});
