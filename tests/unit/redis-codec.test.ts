/**
 * The binary stream entry of replaykit/redis (lib/redis/codec.ts), without a server: values
 * round-trip for every dtype, with and without priorities; the schema hash depends on names,
 * dtypes and shapes but not on key order; every truncation and every flipped byte is refused
 * with a reason (the CRC-32 or a structural check), never accepted or crashed on.
 */
import { crc32 } from 'node:zlib';
import { decodeEntry, encodeEntry, ENTRY_VERSION, EntryError, wireSchema } from '../../lib/redis/codec';

const schema = {
  obs: { shape: [2, 3], dtype: 'float32' },
  id: { shape: [], dtype: 'float64' },
  count: { shape: [], dtype: 'int64' },
  action: { shape: [], dtype: 'int32' },
  frame: { shape: [4], dtype: 'uint8' },
  done: { shape: [], dtype: 'bool' },
} as const;

function columns(n: number) {
  return {
    obs: Float32Array.from({ length: 6 * n }, (_, i) => i / 7),
    id: Float64Array.from({ length: n }, (_, i) => i + 0.25),
    count: BigInt64Array.from({ length: n }, (_, i) => BigInt(i) * 10n ** 15n - 3n),
    action: Int32Array.from({ length: n }, (_, i) => -i),
    frame: Uint8Array.from({ length: 4 * n }, (_, i) => (i * 37) & 255),
    done: Uint8Array.from({ length: n }, (_, i) => i % 2),
  };
}

test('entries round-trip every dtype, with and without priorities', () => {
  const ws = wireSchema(schema);
  expect(ws.rowBytes).toBe(24 + 8 + 8 + 4 + 4 + 1);
  for (const n of [1, 5, 256]) {
    const cols = columns(n);
    const pr = Float64Array.from({ length: n }, (_, i) => 1 + i / 3);
    for (const priorities of [undefined, pr]) {
      const e = encodeEntry(ws, 'actor-é', 2 ** 53 - 1, n, cols, priorities);
      expect(e.readUInt8(4)).toBe(ENTRY_VERSION);
      const d = decodeEntry(ws, e);
      expect(d.actorId).toBe('actor-é');
      expect(d.sequence).toBe(2 ** 53 - 1);
      expect(d.rows).toBe(n);
      expect(d.priorities ? Array.from(d.priorities) : undefined).toEqual(priorities ? Array.from(priorities) : undefined);
      for (const [k, v] of Object.entries(cols)) expect(Array.from(d.columns[k] as ArrayLike<unknown>)).toEqual(Array.from(v as ArrayLike<unknown>));
      // Every section starts 8-aligned, so an aligned entry is read in place (views, no copy).
      for (const k of Object.keys(cols)) expect(d.columns[k].buffer).toBe(e.buffer);
      if (priorities) expect(d.priorities!.buffer).toBe(e.buffer);
      // Decoding at an odd offset in a larger buffer (as a socket read hands it over) gives the same.
      const shifted = Buffer.concat([Buffer.alloc(3), e]).subarray(3);
      const copied = decodeEntry(ws, shifted);
      for (const [k, v] of Object.entries(cols)) expect(Array.from(copied.columns[k] as ArrayLike<unknown>)).toEqual(Array.from(v as ArrayLike<unknown>));
      expect(copied.columns.obs.buffer).not.toBe(shifted.buffer);
    }
  }
});

test('an entry encoded into a reused buffer is byte for byte the fresh one (padding zeroed, every byte written)', () => {
  const ws = wireSchema(schema);
  for (const n of [1, 5, 256]) {
    for (const priorities of [undefined, Float64Array.from({ length: n }, (_, i) => i + 1)]) {
      const fresh = encodeEntry(ws, 'actor-7', 9, n, columns(n), priorities);
      const old = Buffer.alloc(fresh.length, 0xff);
      const reused = encodeEntry(ws, 'actor-7', 9, n, columns(n), priorities, old);
      expect(reused).toBe(old);
      expect(reused.equals(fresh)).toBe(true);
      // A buffer of another size is not written over.
      const wrong = Buffer.alloc(fresh.length + 8, 0xff);
      expect(encodeEntry(ws, 'actor-7', 9, n, columns(n), priorities, wrong)).not.toBe(wrong);
      expect(wrong.every((b) => b === 0xff)).toBe(true);
    }
  }
});

test('the schema hash names the schema: key order does not matter, a name, dtype or shape does', () => {
  const h = (s: object) => wireSchema(s as never).hash.toString('hex');
  const base = h(schema);
  expect(h(Object.fromEntries(Object.entries(schema).reverse()))).toBe(base);
  expect(h({ ...schema, action: { shape: [], dtype: 'int64' } })).not.toBe(base);
  expect(h({ ...schema, obs: { shape: [3, 2], dtype: 'float32' } })).not.toBe(base);
  const { done, ...rest } = schema;
  expect(h({ ...rest, Done: done })).not.toBe(base);
  const other = wireSchema({ ...schema, extra: { shape: [], dtype: 'uint8' } });
  const e = encodeEntry(wireSchema(schema), 'a', 1, 1, columns(1), undefined);
  expect(() => decodeEntry(other, e)).toThrow(/schema hash/);
});

test('every truncation and every flipped byte is an EntryError with a reason', () => {
  const ws = wireSchema(schema);
  const e = encodeEntry(ws, 'a', 7, 3, columns(3), Float64Array.of(1, 2, 3));
  for (let cut = 0; cut < e.length; cut++) expect(() => decodeEntry(ws, e.subarray(0, cut))).toThrow(EntryError);
  for (let at = 0; at < e.length; at++) {
    for (const bit of [1, 0x80]) {
      const bad = Buffer.from(e);
      bad[at] ^= bit;
      let err: unknown;
      try {
        decodeEntry(ws, bad);
      } catch (x) {
        err = x;
      }
      expect(err).toBeInstanceOf(EntryError);
      expect((err as Error).message.length).toBeGreaterThan(5);
    }
  }
  expect(() => decodeEntry(ws, 'text' as never)).toThrow(/not binary/);
  expect(() => decodeEntry(ws, Buffer.concat([e, Buffer.alloc(1)]))).toThrow(EntryError);
});

test('a bad schema is a ShapeError naming the field', () => {
  expect(() => wireSchema({} as never)).toThrow(/no fields/);
  expect(() => wireSchema({ x: { shape: [], dtype: 'complex' } } as never)).toThrow(/field x/);
  expect(() => wireSchema({ x: { shape: [0], dtype: 'float32' } } as never)).toThrow(/field x/);
});

test('an actor id that is not valid UTF-8 is an EntryError (lenient decoding would merge two actors into one)', () => {
  const ws = wireSchema(schema);
  for (const bytes of [[0xff], [0xed, 0xa0, 0x80], [0xc3]]) {
    const e = encodeEntry(ws, 'x'.repeat(bytes.length), 7, 1, columns(1), undefined);
    Buffer.from(bytes).copy(e, 32);
    e.writeUInt32LE(crc32(e.subarray(0, e.length - 4)), e.length - 4);
    expect(() => decodeEntry(ws, e)).toThrow(/actor id is not valid UTF-8/);
  }
  const ok = encodeEntry(ws, '\u00e9\u{1F600}', 7, 1, columns(1), undefined);
  expect(decodeEntry(ws, ok).actorId).toBe('\u00e9\u{1F600}');
});

