#!/usr/bin/env node
// `npm test [-- paths...]`: runs every *.test.ts under test/ (or the given files/folders) with
// node's test runner, the spec reporter for people, and a summary reporter whose last line is
// "N passed, N failed[, N skipped]" for CI.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

function collect(path, out) {
  const st = statSync(path);
  if (st.isDirectory()) {
    for (const name of readdirSync(path).sort()) {
      if (name === 'node_modules' || name.startsWith('.')) continue;
      collect(join(path, name), out);
    }
  } else if (/\.test\.ts$/.test(path)) out.push(path);
  return out;
}

const roots = process.argv.slice(2);
const files = (roots.length ? roots : ['test']).flatMap((r) => collect(resolve(r), []));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const args = [
  '--import', 'tsx',
  '--test',
  `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`,
  '--test-reporter=spec', '--test-reporter-destination=stdout',
  '--test-reporter=./test/support/summary-reporter.mjs', '--test-reporter-destination=stdout',
  ...files,
];
const child = spawn(process.execPath, args, { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } });
child.on('exit', (code, signal) => process.exit(signal ? 1 : code ?? 1));
