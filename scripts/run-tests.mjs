// Runs the whole vitest suite and ends with one plain summary line ("N passed, N failed, N skipped")
// that CI reads; the exit code is vitest's.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';

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
const child = spawn('npx', args, { stdio: 'inherit' });
child.on('exit', (code) => {
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
