#!/usr/bin/env node
// The shadowbox CLI. Built code lives in ../dist (npm run build).
import { main } from '../dist/cli/main.js';

const code = await main(process.argv.slice(2), {
  env: process.env,
  cwd: process.cwd(),
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
});
process.exitCode = code;
