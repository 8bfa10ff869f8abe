/**
 * The native roofline program (bench/native/roofline.cpp): builds it with CMake into
 * build-bench/native when needed, and drives it over stdin/stdout, one command a line,
 * one JSON answer a line, so its runs interleave with the Node ones.
 * @module
 */
import { spawn, spawnSync, ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Configures (once) and builds the roofline program; returns its path. Throws with the build log on failure. */
export function buildRoofline(root: string): string {
  const dir = path.join(root, 'build-bench', 'native');
  const exe = path.join(dir, 'replaykit_roofline');
  const run = (args: string[]): void => {
    const r = spawnSync('cmake', args, { cwd: root, encoding: 'utf8' });
    if (r.error) throw new Error(`cmake is needed to build the roofline program: ${r.error.message}`);
    if (r.status !== 0) throw new Error(`cmake ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  };
  if (!fs.existsSync(path.join(dir, 'CMakeCache.txt'))) {
    const ninja = spawnSync('ninja', ['--version'], { stdio: 'ignore' }).status === 0;
    run(['-S', '.', '-B', dir, ...(ninja ? ['-G', 'Ninja'] : []), '-DREPLAYKIT_BENCH=ON', '-DREPLAYKIT_TESTS=OFF',
      '-DCMAKE_BUILD_TYPE=Release', '-Wno-dev']);
  }
  run(['--build', dir, '--target', 'replaykit_roofline', '--parallel', '2']);
  return exe;
}

/** An answer of the roofline program. */
export interface RooflineAnswer {
  ok?: boolean;
  ns?: number;
  iters?: number;
  error?: string;
}

/** A running roofline program. */
export class Roofline {
  readonly #child: ChildProcessWithoutNullStreams;
  #buffered = '';
  readonly #waiting: ((line: string) => void)[] = [];
  #exited: string | null = null;

  constructor(exe: string) {
    this.#child = spawn(exe, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.#child.stdout.setEncoding('utf8');
    this.#child.stdout.on('data', (chunk: string) => {
      this.#buffered += chunk;
      let nl: number;
      while ((nl = this.#buffered.indexOf('\n')) >= 0) {
        const line = this.#buffered.slice(0, nl);
        this.#buffered = this.#buffered.slice(nl + 1);
        const w = this.#waiting.shift();
        if (w) w(line);
      }
    });
    this.#child.stderr.on('data', (d: Buffer) => process.stderr.write(`[roofline] ${d.toString()}`));
    this.#child.on('exit', (code) => {
      this.#exited = `the roofline program exited (code ${code})`;
      for (const w of this.#waiting.splice(0)) w(JSON.stringify({ error: this.#exited }));
    });
  }

  /** Sends one command and waits for its answer; throws on an error answer. */
  async command(line: string): Promise<RooflineAnswer> {
    if (this.#exited) throw new Error(this.#exited);
    const answer = await new Promise<string>((resolve) => {
      this.#waiting.push(resolve);
      this.#child.stdin.write(`${line}\n`);
    });
    const parsed = JSON.parse(answer) as RooflineAnswer;
    if (parsed.error) throw new Error(`roofline '${line}': ${parsed.error}`);
    return parsed;
  }

  /** Runs a timed command; returns nanoseconds per iteration. */
  async time(line: string): Promise<number> {
    const a = await this.command(line);
    if (typeof a.ns !== 'number') throw new Error(`roofline '${line}': no timing in the answer`);
    return a.ns;
  }

  async close(): Promise<void> {
    if (this.#exited) return;
    const done = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.#child.stdin.write('quit\n');
    this.#child.stdin.end();
    await done;
  }
}
