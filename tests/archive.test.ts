import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { ArchiveError, openArchive, PrioritizedReplayBuffer, ReplayBuffer, ShapeError, StateError } from 'replaykit';
import type { StorageOptions, TransitionFields } from 'replaykit';
import { checkRow, columns, idOf } from './helpers';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'replaykit-archive-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let counter = 0;
const fresh = (ext = 'rkb') => path.join(dir, `f-${counter++}.${ext}`);

type Kind = 'uniform' | 'fifo' | 'lowest-priority';
type StorageKind = 'memory' | 'mmap' | 'tiered';
const storageOf = (k: StorageKind): StorageOptions =>
  k === 'memory' ? { type: 'memory' } : k === 'mmap' ? { type: 'mmap', path: fresh('cold') } : { type: 'tiered', hotCapacity: 7, path: fresh('cold') };

function make(kind: Kind, storage: StorageKind, seed = 3) {
  const common = { capacity: 40, obsShape: [4], actionShape: [], actionDtype: 'int32' as const, seed, storage: storageOf(storage) };
  return kind === 'uniform'
    ? new ReplayBuffer(common)
    : new PrioritizedReplayBuffer({ ...common, alpha: 0.7, betaStart: 0.5, betaFrames: 50, eviction: kind });
}

/** Drives a buffer into a state with every feature in play. */
function exercise(b: ReturnType<typeof make>) {
  const per = b instanceof PrioritizedReplayBuffer ? b : null;
  b.pushBatch(columns(0, 25));
  if (per) per.pushBatch(columns(25, 30), { priorities: Array.from({ length: 30 }, (_, i) => 0.5 + (i % 7)) });
  else b.pushBatch(columns(25, 30));
  const s = b.sample(16);
  if (per) per.updatePriorities(s.indices, Array.from({ length: 16 }, (_, i) => i * 0.3));
  b.createEpochIterator({ batchSize: 6, nEpochs: 2 });
  b.getNextBatch();
  b.getNextBatch();
}

/** The next draws of a buffer, as comparable data. */
function next(b: ReturnType<typeof make>) {
  const out: unknown[] = [b.length, b.sample(12), b.getNextBatch(), b.sample(5), b.getRngState()];
  if (b instanceof PrioritizedReplayBuffer) out.push(b.beta, b.totalPriority, b.maxPriority, b.minPriority, b.top(5));
  return out;
}

describe('exact resume', () => {
  const cases: [Kind, StorageKind, 'sync' | 'async'][] = [];
  for (const k of ['uniform', 'fifo', 'lowest-priority'] as Kind[]) for (const s of ['memory', 'mmap', 'tiered'] as StorageKind[]) cases.push([k, s, cases.length % 2 ? 'async' : 'sync']);
  test.each(cases)('%s buffer on %s storage (%s save and load)', async (kind, storage, mode) => {
    const original = make(kind, storage);
    exercise(original);
    const file = fresh();
    if (mode === 'sync') original.saveSync(file);
    else await original.save(file);
    const loadOpts = { storage: storageOf(storage) };
    const loaded =
      kind === 'uniform'
        ? mode === 'sync' ? ReplayBuffer.loadSync(file, loadOpts) : await ReplayBuffer.load(file, loadOpts)
        : mode === 'sync' ? PrioritizedReplayBuffer.loadSync(file, loadOpts) : await PrioritizedReplayBuffer.load(file, loadOpts);
    expect(loaded).toBeInstanceOf(kind === 'uniform' ? ReplayBuffer : PrioritizedReplayBuffer);
    expect(loaded.storage.type).toBe(storage);
    expect(next(loaded as ReturnType<typeof make>)).toEqual(next(original));
    // and they stay identical as both go on
    for (const b of [original, loaded]) b.pushBatch(columns(100, 9));
    expect(next(loaded as ReturnType<typeof make>)).toEqual(next(original));
    original.close();
    loaded.close();
  });

  test('an archive comes back in another storage, and ReplayBuffer.load returns the archived kind', () => {
    const b = make('fifo', 'memory');
    exercise(b);
    const file = fresh();
    b.saveSync(file);
    const tiered = ReplayBuffer.loadSync(file, { storage: { type: 'tiered', hotCapacity: 5, path: fresh('cold') } });
    expect(tiered).toBeInstanceOf(PrioritizedReplayBuffer);
    expect(next(tiered as ReturnType<typeof make>)).toEqual(next(b));
    const u = make('uniform', 'memory');
    u.pushBatch(columns(0, 3));
    u.saveSync(file);
    expect(() => PrioritizedReplayBuffer.loadSync(file)).toThrow(ArchiveError);
  });

  test("ifMissing: 'empty' starts a new buffer when there is no archive yet", async () => {
    const file = fresh();
    const b = await PrioritizedReplayBuffer.load(file, { ifMissing: 'empty', capacity: 10, obsShape: [4], actionDtype: 'int32', seed: 1 });
    expect(b.length).toBe(0);
    expect(b.capacity).toBe(10);
    expect(() => ReplayBuffer.loadSync(file)).toThrow(ArchiveError);
    b.pushBatch(columns(0, 4));
    b.saveSync(file);
    // Options that disagree with the archive are refused (issue 12.15), not silently overridden ...
    expect(() => PrioritizedReplayBuffer.loadSync(file, { ifMissing: 'empty', capacity: 99, obsShape: [4] })).toThrow(ArchiveError);
    // ... and the job's second run, passing the options that made the buffer, loads the archive.
    const again = PrioritizedReplayBuffer.loadSync(file, { ifMissing: 'empty', capacity: 10, obsShape: [4], actionDtype: 'int32', seed: 1 });
    expect(again.length).toBe(4);
    expect(again.capacity).toBe(10);
  });
});

describe('saving', () => {
  test('progress is reported, pushes are refused during an async save, sampling is not', async () => {
    const b = make('fifo', 'memory');
    exercise(b);
    const file = fresh();
    const seen: number[] = [];
    const pending = b.save(file, { chunkBytes: 4096, onProgress: (p) => seen.push(p.bytesWritten / p.totalBytes) });
    expect(() => b.pushBatch(columns(500, 2))).toThrow(StateError);
    expect(() => (b as PrioritizedReplayBuffer).updatePriorities([50], [1])).toThrow(StateError);
    expect(() => b.clear()).toThrow(StateError);
    expect(() => b.close()).toThrow(StateError);
    expect(() => b.saveSync(fresh())).toThrow(StateError);
    const during = b.sample(4); // allowed; the archive holds the state from when the save began
    await pending;
    expect(seen.length).toBeGreaterThan(2);
    expect(seen[seen.length - 1]).toBe(1);
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]);
    const loaded = PrioritizedReplayBuffer.loadSync(file);
    expect(loaded.sample(4)).toEqual(during);
    b.pushBatch(columns(500, 2)); // allowed again
  });

  test('an aborted save leaves the previous archive in place and no temporary file', async () => {
    const b = make('uniform', 'memory');
    b.pushBatch(columns(0, 10));
    const file = fresh();
    b.saveSync(file);
    const before = fs.readFileSync(file);
    b.pushBatch(columns(10, 10));
    const ac = new AbortController();
    const pending = b.save(file, { chunkBytes: 4096, signal: ac.signal, onProgress: () => ac.abort() });
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    expect(fs.readFileSync(file)).toEqual(before);
    expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    b.pushBatch(columns(20, 1)); // the buffer is usable again
    const already = new AbortController();
    already.abort();
    await expect(b.save(file, { signal: already.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });

  test('an unwritable target is an ArchiveError', async () => {
    const b = make('uniform', 'memory');
    expect(() => b.saveSync(path.join(dir, 'no', 'such', 'dir.rkb'))).toThrow(ArchiveError);
    await expect(b.save(path.join(dir, 'no', 'such', 'dir.rkb'))).rejects.toBeInstanceOf(ArchiveError);
    b.close();
    expect(() => b.saveSync(fresh())).toThrow(StateError);
  });
});

describe('openArchive', () => {
  test('fields are typed arrays viewing the file, oldest first; close detaches them', () => {
    const b = make('fifo', 'memory');
    b.pushBatch(columns(0, 50)); // ids 10..49 remain
    const file = fresh();
    b.saveSync(file);
    const a = openArchive<typeof b extends ReplayBuffer<infer F> ? F : never>(file);
    expect(a.kind).toBe('prioritized');
    expect(a.length).toBe(40);
    expect(a.version).toBe(1);
    expect(a.schema.obs).toEqual({ shape: [4], dtype: 'float32' });
    const reward = a.field('reward');
    expect(Object.prototype.toString.call(reward)).toBe('[object Float32Array]');
    expect(Array.from(reward, (r) => r * 2)).toEqual(Array.from({ length: 40 }, (_, i) => 10 + i));
    const all = b.sampleAll();
    expect(a.field('obs')).toEqual(all.obs);
    expect(a.field('terminated')).toEqual(all.terminated);
    expect(Array.from(a.priorities() ?? [])).toEqual(new Array(40).fill(1));
    expect(a.verify().ok).toBe(true);
    expect(() => a.field('nope' as never)).toThrow(ShapeError);
    const obs = a.field('obs');
    a.close();
    a.close();
    expect(obs.length).toBe(0);
    expect(() => a.field('obs')).toThrow(StateError);
  });

  test('the inspect command prints the archive and checks every checksum', () => {
    const b = make('uniform', 'memory');
    b.pushBatch(columns(0, 12));
    const file = fresh();
    b.saveSync(file);
    const cli = path.join(__dirname, '..', 'dist', 'lib', 'cli.js');
    const text = spawnSync(process.execPath, [cli, 'inspect', file], { encoding: 'utf8' });
    expect(text.status).toBe(0);
    expect(text.stdout).toContain('format version  1');
    expect(text.stdout).toContain('items           12 of capacity 40');
    expect(text.stdout).toContain('every checksum holds');
    const json = JSON.parse(spawnSync(process.execPath, [cli, 'inspect', file, '--json'], { encoding: 'utf8' }).stdout);
    expect(json).toMatchObject({ valid: true, formatVersion: 1, kind: 'uniform', length: 12, capacity: 40 });
    expect(json.schema.action).toEqual({ shape: [], dtype: 'int32' });
    expect(json.bytesPerTransition).toBeCloseTo(fs.statSync(file).size / 12, 6);
    expect(text.stdout).toContain(`per transition  ${(fs.statSync(file).size / 12).toFixed(1)} bytes`);
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 70] ^= 0x40;
    fs.writeFileSync(file, bytes);
    const bad = spawnSync(process.execPath, [cli, 'inspect', file, '--json'], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(JSON.parse(bad.stdout).valid).toBe(false);
    const junk = spawnSync(process.execPath, [cli, 'inspect', __filename], { encoding: 'utf8' });
    expect(junk.status).toBe(1);
    expect(junk.stderr).toContain('not a valid archive');
    expect(spawnSync(process.execPath, [cli], { encoding: 'utf8' }).status).toBe(2);
  });
});

/** Recomputes every checksum, so a test can make a file that lies in structure only. */
function reseal(buf: Buffer): Buffer {
  const count = Math.min(buf.readUInt32LE(28), Math.floor((buf.length - 256) / 32));
  for (let i = 0; i < count; i++) {
    const e = 256 + 32 * i;
    const offset = Number(buf.readBigUInt64LE(e + 8)), length = Number(buf.readBigUInt64LE(e + 16));
    if (offset + length <= buf.length) buf.writeUInt32LE(crc32(buf.subarray(offset, offset + length)), e + 24);
  }
  buf.writeUInt32LE(0, 252);
  buf.writeUInt32LE(crc32(buf.subarray(0, 256 + 32 * count)), 252);
  return buf;
}

describe('bad files give an ArchiveError, allocate nothing large, never crash', () => {
  let good: Buffer;
  beforeAll(() => {
    const b = make('lowest-priority', 'memory');
    exercise(b);
    const file = fresh();
    b.saveSync(file);
    good = fs.readFileSync(file);
  });
  const attempt = (bytes: Buffer | string) => {
    const file = fresh();
    fs.writeFileSync(file, bytes);
    const errors: unknown[] = [];
    for (const f of [() => openArchive(file).close(), () => ReplayBuffer.loadSync(file).close()])
      try {
        f();
        errors.push(null);
      } catch (e) {
        errors.push(e);
      }
    return errors;
  };
  const expectArchiveError = (bytes: Buffer | string, pattern?: RegExp) => {
    const [open, load] = attempt(bytes);
    expect(load).toBeInstanceOf(ArchiveError);
    if (pattern) expect((load as Error).message).toMatch(pattern);
    return open;
  };

  test('truncated files', () => {
    for (const cut of [0, 10, 255, 256, 300, good.length / 2, good.length - 1]) expect(expectArchiveError(good.subarray(0, Math.floor(cut)))).toBeInstanceOf(ArchiveError);
  });
  test('a flipped bit anywhere (but in the padding between sections, which holds nothing)', () => {
    const count = good.readUInt32LE(28);
    const covered = (at: number) => {
      if (at < 256 + 32 * count) return true;
      for (let i = 0; i < count; i++) {
        const e = 256 + 32 * i, offset = Number(good.readBigUInt64LE(e + 8)), length = Number(good.readBigUInt64LE(e + 16));
        if (at >= offset && at < offset + length) return true;
      }
      return false;
    };
    for (let at = 0; at < good.length; at += 7) {
      if (!covered(at)) continue;
      const bad = Buffer.from(good);
      bad[at] ^= 1 << (at % 8);
      expectArchiveError(bad);
    }
  });
  test('wrong magic, another format version, not an archive at all', () => {
    const magic = Buffer.from(good);
    magic.write('NOTARKIV', 0);
    expectArchiveError(reseal(magic), /magic/);
    const version = Buffer.from(good);
    version.writeUInt32LE(2, 8);
    expectArchiveError(reseal(version), /version 2/);
    expectArchiveError('just some text, long enough? '.repeat(20), /magic/);
    expectArchiveError(Buffer.alloc(0), /shorter than a header/);
  });
  test('headers whose sizes or offsets lie, with valid checksums', () => {
    const lie = (edit: (b: Buffer) => void, pattern: RegExp) => {
      const b = Buffer.from(good);
      edit(b);
      expect(expectArchiveError(reseal(b), pattern)).toBeInstanceOf(ArchiveError);
    };
    lie((b) => b.writeBigUInt64LE(2n ** 39n, 40), /capacity|section/); // capacity
    lie((b) => b.writeBigUInt64LE(10n ** 12n, 48), /length/); // length
    lie((b) => b.writeUInt32LE(5_000_000, 28), /section count/);
    lie((b) => b.writeBigUInt64LE(BigInt(good.length - 64), 256 + 32 + 8), /past the end|overlap/); // a section's offset
    lie((b) => b.writeBigUInt64LE(2n ** 62n, 256 + 32 + 16), /past the end/); // a section's length
    lie((b) => b.writeBigUInt64LE(BigInt(good.length + 4096), 16), /bytes but the file has/);
  });
  test('an archive whose buffer would need absurd memory is refused before allocating', () => {
    // A field of 64 Mi floats per row at capacity 40 would need 10 GiB per item stored... made
    // by rewriting the schema's shape of an empty archive (no rows, so the sizes stay consistent).
    const b = new ReplayBuffer({ capacity: 4096, seed: 1, fields: { big: { shape: [8], dtype: 'float32' } } });
    const file = fresh();
    b.saveSync(file);
    const bytes = fs.readFileSync(file);
    const schemaOffset = Number(bytes.readBigUInt64LE(256 + 8));
    bytes.writeBigUInt64LE(2n ** 26n, schemaOffset + 8); // shape[0]
    expectArchiveError(reseal(bytes), /memory/);
  });
  test('a directory, a missing file', () => {
    expect(() => openArchive(dir)).toThrow(ArchiveError);
    expect(() => ReplayBuffer.loadSync(path.join(dir, 'missing.rkb'))).toThrow(ArchiveError);
  });
});

describe('crash safety', () => {
  test('a process killed at random moments of repeated saves always leaves a loadable archive', async () => {
    const entry = path.join(__dirname, '..', 'dist', 'lib', 'index.js');
    const target = fresh();
    const script = `
      const rk = require(${JSON.stringify(entry)});
      const b = new rk.PrioritizedReplayBuffer({ capacity: 20000, obsShape: [16], actionDtype: 'int32', seed: 1 });
      let id = 0;
      const n = 2000, obs = new Float32Array(n * 16), action = new Int32Array(n), reward = new Float32Array(n);
      for (;;) {
        for (let r = 0; r < n; r++) { obs.fill(id, r * 16, r * 16 + 16); action[r] = id % 1000; reward[r] = id; id++; }
        b.pushBatch({ obs, action, reward, nextObs: obs, terminated: new Uint8Array(n), truncated: new Uint8Array(n) });
        b.saveSync(${JSON.stringify(target)}, { chunkBytes: 65536 });
        process.stdout.write('s');
      }`;
    let rng = 12345;
    const rand = () => ((rng = (rng * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let kills = 0;
    for (let round = 0; round < 12; round++) {
      const proc = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve) => proc.stdout.once('data', () => resolve())); // at least one save done
      await new Promise((r) => setTimeout(r, 5 + rand() * 150));
      proc.kill('SIGKILL');
      await new Promise((r) => proc.once('exit', r));
      kills++;
      const b = PrioritizedReplayBuffer.loadSync<TransitionFields<'float32', 'int32'>>(target);
      expect(b.length % 2000).toBe(0);
      const all = b.sampleAll();
      for (let i = 0; i < b.length; i += 997) {
        expect(all.reward[i]).toBe(all.obs[i * 16]);
        expect(all.action[i]).toBe(all.reward[i] % 1000);
      }
      b.close();
    }
    expect(kills).toBe(12);
  }, 60_000);
});

test('rows of a loaded buffer keep their fields together', () => {
  const b = make('fifo', 'tiered');
  exercise(b);
  const file = fresh();
  b.saveSync(file);
  const l = PrioritizedReplayBuffer.loadSync<TransitionFields<'float32', 'int32'>>(file);
  const s = l.sample(40);
  for (let i = 0; i < 40; i++) expect(checkRow(s, i)).toBe(idOf(s, i));
});
