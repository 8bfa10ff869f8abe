/**
 * What the facade relies on from the native core through the binding: the core's CRC-32 is
 * zlib's, its limits are enforced when a buffer is made, and the archive and prioritized
 * fixes of issue 12 (items 1, 6, 11, 12, 13, 18) that live in the core.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { ArchiveError, OutOfRangeError, PrioritizedReplayBuffer, ReplayBuffer, ShapeError } from 'replaykit';
import { addon, LIMITS } from '../lib/native/addon';

const coreCrc32 = addon.crc32;
import { columns } from './helpers';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'replaykit-native-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let counter = 0;
const fresh = () => path.join(dir, `f-${counter++}.rkb`);

/** Recomputes every checksum with zlib, so a test can make a file that lies in content only. */
function reseal(buf: Buffer): Buffer {
  const count = buf.readUInt32LE(28);
  for (let i = 0; i < count; i++) {
    const e = 256 + 32 * i;
    const offset = Number(buf.readBigUInt64LE(e + 8)), length = Number(buf.readBigUInt64LE(e + 16));
    buf.writeUInt32LE(length ? crc32(buf.subarray(offset, offset + length)) : 0, e + 24);
  }
  buf.writeUInt32LE(0, 252);
  buf.writeUInt32LE(crc32(buf.subarray(0, 256 + 32 * count)), 252);
  return buf;
}

describe("the core's CRC-32 is zlib's", () => {
  test('on random bytes of every small length and offset, continued and whole', () => {
    const bytes = new Uint8Array(70_000);
    let x = 7;
    for (let i = 0; i < bytes.length; i++) bytes[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
    for (let n = 0; n < 300; n++) for (const at of [0, 3]) expect(coreCrc32(bytes.subarray(at, at + n))).toBe(crc32(bytes.subarray(at, at + n)));
    const running = crc32(bytes.subarray(0, 1000));
    expect(coreCrc32(bytes.subarray(1000), running)).toBe(crc32(bytes));
    expect(coreCrc32(bytes.subarray(0, 0), 0xdeadbeef)).toBe(0xdeadbeef); // zero length: the running value
  });
});

describe('limits are the core limits, enforced when a buffer is made (issue 12, item 6)', () => {
  test('the exported limits', () => {
    expect(LIMITS).toEqual({ maxFields: 1024, maxDims: 8, maxNameBytes: 65535, maxCapacity: 2 ** 40, maxEnvStreams: 2 ** 20 });
  });
  const fields = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`f${i}`, { shape: [], dtype: 'uint8' as const }]));
  test('maxFields fields make a buffer that saves and loads; one more is a ShapeError', () => {
    expect(() => new ReplayBuffer({ capacity: 4, seed: 1, fields: fields(LIMITS.maxFields + 1) })).toThrow(ShapeError);
    const b = new ReplayBuffer({ capacity: 4, seed: 1, fields: fields(LIMITS.maxFields) });
    b.pushBatch(Object.fromEntries(Object.keys(fields(LIMITS.maxFields)).map((k) => [k, new Uint8Array([1, 2])])));
    const file = fresh();
    b.saveSync(file);
    const again = ReplayBuffer.loadSync(file);
    expect(again.length).toBe(2);
    expect(Object.keys(again.schema)).toHaveLength(LIMITS.maxFields);
  });
  test('more than maxDims dimensions, a name longer than maxNameBytes: ShapeError', () => {
    expect(() => new ReplayBuffer({ capacity: 4, fields: { x: { shape: Array(LIMITS.maxDims + 1).fill(1), dtype: 'float32' } } })).toThrow(ShapeError);
    expect(() => new ReplayBuffer({ capacity: 4, fields: { ['n'.repeat(LIMITS.maxNameBytes + 1)]: { shape: [], dtype: 'float32' } } })).toThrow(ShapeError);
    expect(new ReplayBuffer({ capacity: 4, fields: { x: { shape: Array(LIMITS.maxDims).fill(1), dtype: 'float32' } } }).length).toBe(0);
  });
});

describe("the facade checks the core's limits itself, with the binding's numbers", () => {
  // One past each limit: the facade's own message, naming the user's option (the core's
  // messages, which the binding would pass on, are worded differently); at the limit: accepted.
  const fields = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`f${i}`, { shape: [], dtype: 'uint8' as const }]));
  const messageOf = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      return `${(e as Error).name}: ${(e as Error).message}`;
    }
    return '(nothing thrown)';
  };
  test('field count, for `fields` and for `extraFields`', () => {
    expect(messageOf(() => new ReplayBuffer({ capacity: 4, fields: fields(LIMITS.maxFields + 1) }))).toBe(
      `ShapeError: \`fields\` make ${LIMITS.maxFields + 1} fields; a buffer has at most ${LIMITS.maxFields}`,
    );
    expect(messageOf(() => new ReplayBuffer({ capacity: 4, obsShape: [2], extraFields: fields(LIMITS.maxFields - 5) }))).toBe(
      `ShapeError: \`extraFields\` with the 6 standard fields make ${LIMITS.maxFields + 1} fields; a buffer has at most ${LIMITS.maxFields}`,
    );
    expect(new ReplayBuffer({ capacity: 4, obsShape: [2], extraFields: fields(LIMITS.maxFields - 6) }).length).toBe(0);
  });
  test('dimensions and name bytes (UTF-8: a two-byte character counts twice)', () => {
    expect(messageOf(() => new ReplayBuffer({ capacity: 4, fields: { x: { shape: Array(LIMITS.maxDims + 1).fill(1), dtype: 'float32' } } }))).toBe(
      `ShapeError: field 'x': shape has ${LIMITS.maxDims + 1} dimensions; at most ${LIMITS.maxDims} are supported`,
    );
    const half = 'é'.repeat(Math.floor(LIMITS.maxNameBytes / 2));
    expect(new ReplayBuffer({ capacity: 4, fields: { [half]: { shape: [], dtype: 'float32' } } }).length).toBe(0);
    expect(messageOf(() => new ReplayBuffer({ capacity: 4, fields: { [half + 'é']: { shape: [], dtype: 'float32' } } }))).toMatch(
      new RegExp(`^ShapeError: field name '.{40}\\.\\.\\.' is longer than ${LIMITS.maxNameBytes} bytes \\(UTF-8\\)$`),
    );
  });
  test('capacity', () => {
    expect(messageOf(() => new ReplayBuffer({ capacity: LIMITS.maxCapacity + 1, obsShape: [2] }))).toBe(
      `OutOfRangeError: capacity must be an integer in [1, ${LIMITS.maxCapacity}], got ${LIMITS.maxCapacity + 1}`,
    );
  });
});

describe('archives of epoch state with no keys load (issue 12, item 1)', () => {
  const make = () => {
    const b = new PrioritizedReplayBuffer({ capacity: 16, obsShape: [4], actionDtype: 'int32', seed: 5 });
    b.pushBatch(columns(0, 10));
    return b;
  };
  const setups: [string, (b: ReturnType<typeof make>) => void][] = [
    ['createEpochIterator() before the first batch', (b) => b.createEpochIterator({ batchSize: 4 })],
    ['getStepsAndIterator({ nEpochs: 1 }) before the first batch', (b) => b.getStepsAndIterator({ nEpochs: 1, maxIter: 0, batchSize: 4 })],
    ['getStepsAndIterator({ nEpochs: 0 })', (b) => b.getStepsAndIterator({ nEpochs: 0, maxIter: 5, batchSize: 4 })],
    [
      'an epoch begun over an empty buffer (zero keys)',
      (b) => {
        b.clear();
        b.createEpochIterator({ batchSize: 4, nEpochs: 1 });
        expect(() => b.getNextBatch()).toThrow();
        b.pushBatch(columns(20, 3));
      },
    ],
  ];
  test.each(setups)('saveSync and save after %s', async (_, setup) => {
    for (const async of [false, true]) {
      const b = make();
      setup(b);
      const file = fresh();
      if (async) await b.save(file);
      else b.saveSync(file);
      const loaded = PrioritizedReplayBuffer.loadSync(file);
      expect(loaded.length).toBe(b.length);
      expect(next(loaded)).toEqual(next(b)); // the same batch, or the same refusal

      expect(openArchiveOk(file)).toBe(true);
    }
  });
});

function next(b: PrioritizedReplayBuffer): Float64Array | string {
  try {
    return b.getNextBatch().indices;
  } catch (e) {
    return (e as Error).name;
  }
}

function openArchiveOk(file: string): boolean {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { openArchive } = require('replaykit') as typeof import('replaykit');
  const a = openArchive(file);
  try {
    return a.verify().ok;
  } finally {
    a.close();
  }
}

describe('crafted headers with valid checksums are ArchiveErrors (issue 12, items 13 and 18)', () => {
  let good: Buffer;
  beforeAll(() => {
    const b = new PrioritizedReplayBuffer({ capacity: 16, obsShape: [4], actionDtype: 'int32', seed: 5 });
    b.pushBatch(columns(0, 10));
    const file = fresh();
    b.saveSync(file);
    good = fs.readFileSync(file);
  });
  const refused = (edit: (b: Buffer) => void) => {
    const bytes = Buffer.from(good);
    edit(bytes);
    const file = fresh();
    fs.writeFileSync(file, reseal(bytes));
    expect(() => PrioritizedReplayBuffer.loadSync(file)).toThrow(ArchiveError);
  };
  test('the unchanged archive, resealed with zlib, loads', () => {
    const file = fresh();
    fs.writeFileSync(file, reseal(Buffer.from(good)));
    expect(PrioritizedReplayBuffer.loadSync(file).length).toBe(10);
  });
  test('seed NaN, betaFrames 2^53, an all-zero generator state, a maximum priority below a stored one', () => {
    refused((b) => b.writeDoubleLE(NaN, 144));
    refused((b) => b.writeBigUInt64LE(2n ** 53n + 1n, 112));
    refused((b) => b.fill(0, 128, 144));
    refused((b) => b.writeDoubleLE(1e-3, 104));
  });
});

describe('priorities (issue 12, items 11 and 12)', () => {
  test('updates that would make the total priority overflow are refused and change nothing', () => {
    const per = new PrioritizedReplayBuffer({ capacity: 8, obsShape: [4], actionDtype: 'int32', alpha: 1, seed: 2 });
    per.pushBatch(columns(0, 2));
    const before = [per.totalPriority, per.maxPriority, per.minPriority];
    expect(() => per.updatePriorities([0, 1], [1e308, 1e308])).toThrow(OutOfRangeError);
    expect([per.totalPriority, per.maxPriority, per.minPriority]).toEqual(before);
    per.updatePriorities([0], [1e308]);
    expect(() => per.push({ obs: [0, 0, 0, 0], action: 0, reward: 0, nextObs: [0, 0, 0, 0], terminated: false, truncated: false })).toThrow(OutOfRangeError);
    expect(per.length).toBe(2);
    expect(Number.isFinite(per.totalPriority)).toBe(true);
  });
  test('importance-sampling weights stay in (0, 1] when one would underflow', () => {
    const per = new PrioritizedReplayBuffer({ capacity: 8, obsShape: [4], actionDtype: 'int32', alpha: 1, betaStart: 1, betaEnd: 1, seed: 2 });
    per.pushBatch(columns(0, 2), { priorities: [1e-300, 1e300] });
    for (let i = 0; i < 20; i++) for (const w of per.sample(2).weights) expect(w > 0 && w <= 1).toBe(true);
  });
});

test("the core's beta schedule is the facade's former expression, bit for bit, one step per sample", () => {
  const betaStart = 0.123, betaEnd = 0.987, betaFrames = 7;
  const per = new PrioritizedReplayBuffer({ capacity: 8, obsShape: [4], actionDtype: 'int32', betaStart, betaEnd, betaFrames, seed: 3 });
  per.pushBatch(columns(0, 4));
  for (let k = 0; k < 12; k++) {
    expect(per.beta).toBe(betaStart + (betaEnd - betaStart) * Math.min(1, k / betaFrames));
    if (k % 3 === 0) per.sample(2, { beta: 0.5 }); // an explicit beta: the schedule still advances
    else per.sample(2);
    expect(() => per.sample(5)).toThrow(OutOfRangeError); // a refused sample does not advance it
  }
});

describe('the prefetcher checks the batch layout and every submission against memory it may write', () => {
  test('layouts outside the batch, misaligned or of the wrong length are RangeError/ShapeError, never a write', () => {
    const rb = new ReplayBuffer({ capacity: 16, seed: 1, fields: { x: { shape: [2], dtype: 'float32' } } });
    rb.pushBatch({ x: new Float32Array(16) });
    const h = rb.writerHandle();
    const statuses = new Int32Array(4);
    const n = Object.keys(rb.schema).length;
    const wake = () => undefined;
    const layout = (over: Partial<Record<'rows' | 'bytes' | 'indices', number>>, fields?: number[]) =>
      Float64Array.of(over.rows ?? 4, over.bytes ?? 64, over.indices ?? 0, -1, -1, -1, ...(fields ?? new Array(n).fill(-1)));
    expect(() => new addon.NativePrefetcher(h.buffer, h.process, wake, layout({}, [0, 0]), statuses)).toThrow(ShapeError); // one field, two offsets
    expect(() => new addon.NativePrefetcher(h.buffer, h.process, wake, layout({ indices: 40 }), statuses)).toThrow(OutOfRangeError); // 32 bytes of indices past 64
    expect(() => new addon.NativePrefetcher(h.buffer, h.process, wake, layout({ indices: 4 }), statuses)).toThrow(OutOfRangeError); // misaligned
    expect(() => new addon.NativePrefetcher(h.buffer, h.process, wake, layout({ rows: 0 }), statuses)).toThrow(OutOfRangeError);
    expect(() => new addon.NativePrefetcher(h.buffer, h.process, wake, layout({}, [1e6, ...new Array(n - 1).fill(-1)]), statuses)).toThrow(OutOfRangeError);
    // A good layout (indices only), then submissions that would write outside their ArrayBuffer.
    const p = new addon.NativePrefetcher(h.buffer, h.process, wake, layout({ bytes: 32 }), statuses);
    const words = new Uint32Array(8);
    const small = new ArrayBuffer(40);
    expect(() => p.submit(words, small, 16, undefined, 0)).toThrow(OutOfRangeError); // 16 + 32 > 40
    expect(() => p.submit(words, small, 4, undefined, 0)).toThrow(OutOfRangeError); // misaligned
    expect(() => p.submit(words, small, 0, undefined, 4)).toThrow(OutOfRangeError); // no such status slot
    expect(() => p.submit(new Uint32Array(6), small, 0, undefined, 0)).toThrow(ShapeError); // 2 words a row
    p.submit(words, small, 8, undefined, 1);
    p.close();
    rb.close();
  });
});
