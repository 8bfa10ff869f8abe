import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { OutOfRangeError, PrioritizedReplayBuffer, ReplayBuffer, StateError, StorageError } from 'replaykit';
import type { StorageOptions } from 'replaykit';
import { checkRow, columns, idOf, transition } from './helpers';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'replaykit-storage-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let counter = 0;
const freshPath = () => path.join(dir, `cold-${counter++}.rkb`);

const kinds: [string, () => StorageOptions][] = [
  ['mmap', () => ({ type: 'mmap', path: freshPath() })],
  ['tiered', () => ({ type: 'tiered', hotCapacity: 4, path: freshPath() })],
];
const standard = (capacity: number, storage?: StorageOptions, seed = 1) =>
  new ReplayBuffer({ capacity, obsShape: [4], actionShape: [], actionDtype: 'int32', seed, storage });

describe.each(kinds)('%s storage', (_name, storage) => {
  test('behaves exactly as memory storage: pushes, FIFO eviction, samples, epochs, clear', () => {
    const disk = standard(20, storage(), 3);
    const mem = standard(20, undefined, 3);
    let id = 0;
    for (const n of [1, 3, 7, 2, 25, 1, 1, 9, 40, 5]) {
      disk.pushBatch(columns(id, n));
      mem.pushBatch(columns(id, n));
      id += n;
      expect(disk.length).toBe(mem.length);
      expect(disk.sample(Math.min(8, disk.length))).toEqual(mem.sample(Math.min(8, mem.length)));
      expect(disk.sampleAll()).toEqual(mem.sampleAll());
    }
    disk.push(transition(1000));
    mem.push(transition(1000));
    expect([...disk.epochs({ batchSize: 6 })]).toEqual([...mem.epochs({ batchSize: 6 })]);
    disk.clear();
    mem.clear();
    disk.pushBatch(columns(0, 3));
    mem.pushBatch(columns(0, 3));
    expect(disk.sampleAll()).toEqual(mem.sampleAll());
    disk.close();
  });

  test('indexed and field reads across the tiers match memory storage', () => {
    const disk = standard(30, storage(), 5);
    const mem = standard(30, undefined, 5);
    for (const b of [disk, mem]) b.pushBatch(columns(0, 47)); // ids 17..46, the oldest in the file
    const positions = [0, 29, 3, 3, 15, 28];
    expect(disk.sampleByIndex(positions)).toEqual(mem.sampleByIndex(positions));
    const some = disk.sampleByIndexFields(positions, ['reward', 'terminated']);
    expect(some).toEqual(mem.sampleByIndexFields(positions, ['reward', 'terminated']));
    expect(Array.from(some.reward, (r) => r * 2)).toEqual([17, 46, 20, 20, 32, 45]);
    expect(Object.keys(some).sort()).toEqual(['indices', 'reward', 'terminated']);
    disk.close();
  });

  test('every sampled row across the tiers is the item it names', () => {
    const rb = standard(50, storage(), 9);
    rb.pushBatch(columns(0, 120)); // ids 70..119 stay
    for (let r = 0; r < 20; r++) {
      const b = rb.sample(50);
      for (let i = 0; i < 50; i++) {
        const id = checkRow(b, i);
        expect(id).toBeGreaterThanOrEqual(70);
        expect(b.indices[i]).toBe(id);
      }
    }
    expect(Array.from(rb.sampleAll().reward, (x) => x * 2)).toEqual(Array.from({ length: 50 }, (_, i) => 70 + i));
    rb.close();
  });

  test('the file exists while the buffer is open and is deleted by close()', () => {
    const s = storage();
    const file = (s as { path: string }).path;
    const rb = standard(10, s);
    expect(fs.existsSync(file)).toBe(true);
    expect(rb.storage).toEqual(s);
    rb.close();
    expect(fs.existsSync(file)).toBe(false);
    expect(() => rb.push(transition(1))).toThrow(StateError);
  });

  test('a second buffer on a path in use is refused; the first keeps working', () => {
    const s = storage();
    const first = standard(10, s);
    first.pushBatch(columns(0, 5));
    expect(() => standard(10, s)).toThrow(StorageError);
    expect(first.sampleAll().indices).toHaveLength(5);
    first.close();
    const again = standard(10, s); // free again after close
    again.close();
  });
});

describe('tiered storage', () => {
  test('uint8 images round-trip across the tiers, pushBatch crossing the RAM/file boundary', () => {
    const rb = new ReplayBuffer({
      capacity: 30,
      seed: 4,
      storage: { type: 'tiered', hotCapacity: 5, path: freshPath() },
      fields: { id: { shape: [], dtype: 'int32' }, frame: { shape: [4, 8, 8], dtype: 'uint8' } },
    });
    const frame = (id: number) => Uint8Array.from({ length: 256 }, (_, k) => (id * 7 + k) % 256);
    for (let start = 0; start < 70; start += 12) {
      const n = Math.min(12, 70 - start);
      const cols = { id: Int32Array.from({ length: n }, (_, r) => start + r), frame: new Uint8Array(n * 256) };
      for (let r = 0; r < n; r++) cols.frame.set(frame(start + r), r * 256);
      rb.pushBatch(cols);
    }
    for (let round = 0; round < 10; round++) {
      const b = rb.sample(30);
      for (let i = 0; i < 30; i++) {
        expect(b.id[i]).toBeGreaterThanOrEqual(40);
        expect(b.frame.subarray(i * 256, (i + 1) * 256)).toEqual(frame(b.id[i]));
      }
    }
    rb.close();
  });

  test('prioritized items keep their priorities when they spill to the file', () => {
    const per = new PrioritizedReplayBuffer({ capacity: 12, obsShape: [4], actionDtype: 'int32', alpha: 1, seed: 2, storage: { type: 'tiered', hotCapacity: 3, path: freshPath() } });
    const p = Array.from({ length: 12 }, (_, i) => i + 1);
    per.pushBatch(columns(0, 12), { priorities: p }); // ids 0..8 are in the file now
    const t = per.top(12);
    for (let i = 0; i < 12; i++) expect(t.priorities[i]).toBe(p[idOf(t, i)]);
    const counts = new Array(12).fill(0);
    for (let r = 0; r < 500; r++) for (const k of per.sample(12).indices) counts[k]++;
    const total = 500 * 12, z = p.reduce((a, b) => a + b, 0);
    for (let i = 0; i < 12; i++) expect(Math.abs(counts[i] / total - p[i] / z)).toBeLessThan(0.01);
    per.close();
  });

  test("lowest-priority eviction works across the tiers", () => {
    const per = new PrioritizedReplayBuffer({ capacity: 6, obsShape: [4], actionDtype: 'int32', alpha: 1, seed: 2, eviction: 'lowest-priority', storage: { type: 'tiered', hotCapacity: 2, path: freshPath() } });
    const mem = new PrioritizedReplayBuffer({ capacity: 6, obsShape: [4], actionDtype: 'int32', alpha: 1, seed: 2, eviction: 'lowest-priority' });
    const p = [5, 1, 4, 2, 6, 3, 0.5, 9, 7, 8];
    for (const b of [per, mem]) b.pushBatch(columns(0, 10), { priorities: p });
    expect(per.sampleAll()).toEqual(mem.sampleAll());
    expect(per.top(6)).toEqual(mem.top(6));
    expect([...new Set(Array.from(per.sampleAll().reward, (x) => x * 2))].sort((a, b) => a - b)).toEqual([0, 2, 4, 7, 8, 9]);
    per.close();
  });

  test('bad storage options and file faults give named errors', () => {
    const base = { capacity: 10, obsShape: [4], seed: 1 } as const;
    expect(() => new ReplayBuffer({ ...base, storage: { type: 'tiered', hotCapacity: 10, path: freshPath() } })).toThrow(OutOfRangeError);
    expect(() => new ReplayBuffer({ ...base, storage: { type: 'tiered', hotCapacity: 0, path: freshPath() } })).toThrow(OutOfRangeError);
    expect(() => new ReplayBuffer({ ...base, storage: { type: 'tiered', hotCapacity: 2.5, path: freshPath() } })).toThrow(OutOfRangeError);
    expect(() => new ReplayBuffer({ ...base, storage: { type: 'disk' } as never })).toThrow(OutOfRangeError);
    expect(() => new ReplayBuffer({ ...base, storage: { type: 'mmap', path: '' } })).toThrow(OutOfRangeError);
    expect(() => new ReplayBuffer({ ...base, storage: { type: 'mmap', path: path.join(dir, 'missing', 'x.rkb') } })).toThrow(StorageError);
    expect(() => new ReplayBuffer({ ...base, storage: { type: 'mmap', path: dir } })).toThrow(StorageError);
    const ro = path.join(dir, 'readonly');
    fs.mkdirSync(ro, { mode: 0o500 });
    if (process.getuid?.() !== 0) expect(() => new ReplayBuffer({ ...base, storage: { type: 'mmap', path: path.join(ro, 'x.rkb') } })).toThrow(StorageError);
  });
});

/** Runs a script in a fresh node process against the built package; returns its stdout. */
function child(script: string, args: string[] = [], limitFileKb?: number): { stdout: string; stderr: string; status: number | null } {
  const entry = path.join(__dirname, '..', 'dist', 'lib', 'index.js');
  if (!fs.existsSync(entry)) throw new Error('run `npm run build:ts` first: child-process tests load dist/');
  const code = `const rk = require(${JSON.stringify(entry)});\n${script}`;
  const cmd = limitFileKb ? ['-c', `ulimit -f ${limitFileKb} && exec "${process.execPath}" ${args.join(' ')} -e "$0"`, code] : undefined;
  const r = cmd ? spawnSync('sh', cmd, { encoding: 'utf8' }) : spawnSync(process.execPath, [...args, '-e', code], { encoding: 'utf8' });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

describe('files are removed however the buffer ends', () => {
  test('garbage collection of an unclosed buffer deletes its file', () => {
    const p = freshPath();
    const r = child(
      `const fs = require('fs');
       (() => { const rb = new rk.ReplayBuffer({ capacity: 100, obsShape: [4], seed: 1, storage: { type: 'tiered', hotCapacity: 10, path: ${JSON.stringify(p)} } }); })();
       const before = fs.existsSync(${JSON.stringify(p)});
       setTimeout(() => { global.gc(); setTimeout(() => { global.gc(); console.log(before, fs.existsSync(${JSON.stringify(p)})); }, 50); }, 10);`,
      ['--expose-gc'],
    );
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('true false');
  });

  test.each([
    ['a natural exit', ''],
    ['process.exit()', 'process.exit(0);'],
    ['an uncaught exception', 'throw new Error("boom");'],
  ])('%s with open buffers leaves no file behind', (_name, ending) => {
    const a = freshPath(), b = freshPath();
    const r = child(
      `globalThis.keep = [
         new rk.ReplayBuffer({ capacity: 100, obsShape: [4], seed: 1, storage: { type: 'tiered', hotCapacity: 10, path: ${JSON.stringify(a)} } }),
         new rk.PrioritizedReplayBuffer({ capacity: 100, obsShape: [4], seed: 1, storage: { type: 'mmap', path: ${JSON.stringify(b)} } })];
       console.log(require('fs').existsSync(${JSON.stringify(a)}) && require('fs').existsSync(${JSON.stringify(b)}));
       ${ending}`,
    );
    expect(r.stdout.trim()).toBe('true');
    expect(fs.existsSync(a)).toBe(false);
    expect(fs.existsSync(b)).toBe(false);
  });

  test('no space for the file is a StorageError at creation, not a crash later', () => {
    const p = freshPath();
    const r = child(
      `try { new rk.ReplayBuffer({ capacity: 100000, obsShape: [64], seed: 1, storage: { type: 'mmap', path: ${JSON.stringify(p)} } }); console.log('created'); }
       catch (e) { console.log(e.name, e instanceof rk.StorageError); }`,
      [],
      1024, // a 1 MiB file-size limit: reserving 51 MB fails as a full disk would
    );
    expect(r.stdout.trim()).toBe('StorageError true');
    expect(r.status).toBe(0);
    expect(fs.existsSync(p)).toBe(false);
  });
});
