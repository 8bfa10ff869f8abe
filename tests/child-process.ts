/**
 * Child-process test scaffolding: runs a script in a fresh node process against the built
 * package (dist/lib), with a helper to run worker threads, so that a crash at teardown shows
 * as a signal or a non-zero status instead of taking jest down.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const entry = path.join(__dirname, '..', 'dist', 'lib', 'index.js');

export interface Outcome {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `script` in a fresh node process. In scope: `rk` (the package), `fs`, `path`, and
 * `runWorker(code, { workerData, terminateOn })`, which starts a worker thread running `code`
 * (with `rk`, `parentPort` and `workerData` in scope) and resolves with its exit code and
 * messages; `terminateOn: 'ready'` terminates it when it posts 'ready'.
 */
export function child(script: string, args: string[] = [], timeout = 60_000): Outcome {
  if (!fs.existsSync(entry)) throw new Error('run `npm run build:ts` first: child-process tests load dist/');
  const prelude = `
    const rk = require(${JSON.stringify(entry)});
    const fs = require('node:fs');
    const path = require('node:path');
    const { Worker } = require('node:worker_threads');
    function runWorker(code, { workerData, terminateOn, onMessage } = {}) {
      const src = 'const rk = require(' + JSON.stringify(${JSON.stringify(entry)}) + ');' +
        "const { parentPort, workerData } = require('node:worker_threads');" + code;
      return new Promise((resolve, reject) => {
        const w = new Worker(src, { eval: true, workerData });
        const messages = [];
        w.on('message', (m) => {
          messages.push(m);
          if (onMessage) onMessage(m, w);
          if (m === terminateOn) w.terminate();
        });
        w.on('error', (e) => messages.push('error: ' + e.message));
        w.on('exit', (code) => resolve({ code, messages }));
      });
    }
  `;
  const r = spawnSync(process.execPath, [...args, '-e', `${prelude}\n${script}`], { encoding: 'utf8', timeout });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Expects a clean ending: the given status, no signal (no segfault or abort), nothing on stderr. */
export function expectClean(r: Outcome, status = 0): void {
  expect({ signal: r.signal, stderr: r.stderr, status: r.status }).toEqual({ signal: null, stderr: '', status });
}
