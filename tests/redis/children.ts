/** Child processes of the fault tests (tests/redis/children/*.js): started with node, their JSON lines collected, killed at will. */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { until } from './server';

export interface Child {
  readonly proc: ChildProcess;
  /** Every JSON line printed so far. */
  readonly lines: Record<string, number | boolean>[];
  readonly last: () => Record<string, number | boolean> | undefined;
  /** Resolves with the exit code (or signal name). */
  readonly exited: Promise<number | string>;
  stderr: string;
}

export function startChild(script: 'actor' | 'learner', args: (string | number)[]): Child {
  const proc = spawn(process.execPath, [path.join(__dirname, 'children', `${script}.js`), ...args.map(String)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, number | boolean>[] = [];
  let rest = '';
  proc.stdout!.on('data', (d: Buffer) => {
    rest += d.toString();
    let nl: number;
    while ((nl = rest.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(rest.slice(0, nl)));
      rest = rest.slice(nl + 1);
    }
  });
  const child: Child = {
    proc,
    lines,
    last: () => lines[lines.length - 1],
    exited: new Promise((resolve) => proc.on('exit', (code, signal) => resolve(code ?? signal ?? -1))),
    stderr: '',
  };
  proc.stderr!.on('data', (d: Buffer) => (child.stderr += d.toString()));
  return child;
}

/** Waits until the child printed a line satisfying `pred` (bounded: a child that dies or stalls fails the test with its stderr). */
export async function waitForLine(c: Child, pred: (l: Record<string, number | boolean>) => boolean, what: string, ms = 30_000): Promise<void> {
  await until(() => {
    if (c.lines.some(pred)) return true;
    if (c.proc.exitCode !== null) throw new Error(`child exited (${c.proc.exitCode}) before ${what}: ${c.stderr}`);
    return false;
  }, ms, what);
}

export async function kill(c: Child, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill(signal);
  await c.exited;
}
