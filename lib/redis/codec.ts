/**
 * The binary stream entry: one `XADD` value carrying a batch of rows from one actor.
 *
 * Layout (all integers little-endian; typed-array bytes as the machine holds them, which
 * replaykit requires to be little-endian):
 *
 * | offset | size | content |
 * |---|---|---|
 * | 0 | 4 | magic `RKRS` |
 * | 4 | 1 | format version, {@link ENTRY_VERSION} |
 * | 5 | 1 | flags: bit 0 set when a float64 priority per row follows the actor id |
 * | 6 | 2 | actor id length in bytes (UTF-8), 1..1024 |
 * | 8 | 8 | schema hash ({@link schemaHash}) |
 * | 16 | 8 | per-actor sequence number, unsigned, a safe integer |
 * | 24 | 4 | row count n, >= 1 |
 * | 28 | 4 | reserved, 0 |
 * | 32 | a | actor id, UTF-8 |
 * |  | 8n | priorities, float64, when flag bit 0 is set |
 * |  | ... | each field in the schema's sorted name order: n rows, row-major, `n * elements * bytesPerElement` bytes |
 * | end-4 | 4 | CRC-32 (zlib) of every byte before it |
 *
 * The actor id, the priorities and each field are each followed by zero bytes up to the next
 * multiple of 8 from the entry's start (version 2; version 1 had no padding). Field bytes are
 * stored per field (column-major across fields, row-major within one) so that the learner
 * hands them to `pushBatch` as they are, without a transpose; the padding keeps every
 * section aligned for its dtype, so that where Redis's reply puts the entry at an aligned
 * address (most entries) the learner reads the fields in place, with no copy.
 * @module
 */
import { createHash } from 'node:crypto';
import { endianness } from 'node:os';
import { crc32 } from 'node:zlib';
import { DTYPES, type AnyTypedArray, type Dtype } from '../schema/dtypes';
import type { FieldsSpec } from '../schema/types';
import { ShapeError } from '../errors';

/** The entry format version this code writes and reads. */
export const ENTRY_VERSION = 2;
const MAGIC = 0x53524b52; // 'RKRS' read as a little-endian u32
const HEADER = 32;
const MAX_ACTOR_ID = 1024;
const FLAG_PRIORITIES = 1;
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

if (endianness() !== 'LE') throw new Error('replaykit/redis: entries are little-endian; this machine is big-endian');

/** One field of a {@link WireSchema}. */
export interface WireField {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  /** Elements per row (product of shape). */
  readonly elements: number;
  /** Bytes per row. */
  readonly rowBytes: number;
}

/** A schema in wire order (fields sorted by name) with its hash. */
export interface WireSchema {
  readonly fields: readonly WireField[];
  /** 8 bytes: the first 8 of SHA-256 over the canonical JSON `[[name, dtype, shape], ...]` (sorted by name). */
  readonly hash: Buffer;
  /** Bytes of one row over all fields. */
  readonly rowBytes: number;
}

/** Builds the wire form of a schema; throws `ShapeError` for an empty or malformed one. */
export function wireSchema(schema: FieldsSpec): WireSchema {
  if (schema === null || typeof schema !== 'object') throw new ShapeError('replaykit/redis: schema must be an object of { shape, dtype } fields');
  const names = Object.keys(schema).sort();
  if (names.length === 0) throw new ShapeError('replaykit/redis: schema has no fields');
  let rowBytes = 0;
  const fields = names.map((name) => {
    const f = schema[name];
    const dtype = f?.dtype;
    if (!f || typeof dtype !== 'string' || !Object.prototype.hasOwnProperty.call(DTYPES, dtype)) throw new ShapeError(`replaykit/redis: field ${name} has no valid dtype`);
    const shape = Array.from(f.shape ?? [], Number);
    if (!shape.every((d) => Number.isInteger(d) && d > 0)) throw new ShapeError(`replaykit/redis: field ${name} has an invalid shape`);
    const elements = shape.reduce((a, b) => a * b, 1);
    const w: WireField = { name, dtype, shape, elements, rowBytes: elements * DTYPES[dtype].ctor.BYTES_PER_ELEMENT };
    rowBytes += w.rowBytes;
    return w;
  });
  return { fields, hash: schemaHash(fields), rowBytes };
}

function schemaHash(fields: readonly WireField[]): Buffer {
  const canonical = JSON.stringify(fields.map((f) => [f.name, f.dtype, f.shape]));
  return createHash('sha256').update(canonical).digest().subarray(0, 8);
}

/**
 * What an entry carries, decoded. Columns are typed arrays, one per field: views of the
 * entry's own bytes where they are aligned for the dtype (no copy), else aligned copies.
 * Either way they are only read (the learner pushes them into its buffer, which copies).
 */
export interface DecodedEntry {
  readonly actorId: string;
  readonly sequence: number;
  readonly rows: number;
  readonly priorities: Float64Array | undefined;
  readonly columns: Record<string, AnyTypedArray>;
}

/**
 * Encodes `rows` rows. `columns[field]` holds at least `rows * elements` values of the
 * field's dtype (extra values are ignored); `priorities` at least `rows` values. `reuse`: a
 * buffer from an earlier entry no longer needed, written over when it is the right size
 * (an actor's entries mostly are: no allocation and no garbage an entry).
 */
export function encodeEntry(
  ws: WireSchema,
  actorId: string,
  sequence: number,
  rows: number,
  columns: Record<string, AnyTypedArray>,
  priorities: Float64Array | undefined,
  reuse?: Buffer,
): Buffer {
  const id = Buffer.from(actorId, 'utf8');
  const at = layout(ws, id.length, rows, priorities !== undefined);
  const out = reuse !== undefined && reuse.length === at.end + 4 ? reuse : Buffer.allocUnsafe(at.end + 4);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt8(ENTRY_VERSION, 4);
  out.writeUInt8(priorities ? FLAG_PRIORITIES : 0, 5);
  out.writeUInt16LE(id.length, 6);
  ws.hash.copy(out, 8);
  out.writeBigUInt64LE(BigInt(sequence), 16);
  out.writeUInt32LE(rows, 24);
  out.writeUInt32LE(0, 28);
  // Every byte is written (a reused buffer holds an older entry), the padding with zeros: it
  // is part of the checksummed bytes.
  let end = HEADER + id.copy(out, HEADER);
  const section = (src: AnyTypedArray, count: number, start: number) => {
    out.fill(0, end, start);
    out.set(new Uint8Array(src.buffer, src.byteOffset, count * src.BYTES_PER_ELEMENT), start);
    end = start + count * src.BYTES_PER_ELEMENT;
  };
  if (priorities) section(priorities, rows, at.priorities);
  ws.fields.forEach((f, i) => section(columns[f.name], rows * f.elements, at.fields[i]));
  out.fill(0, end, at.end);
  out.writeUInt32LE(crc32(out.subarray(0, at.end)), at.end);
  return out;
}

const pad8 = (x: number) => (x + 7) & ~7;

/** Where each section of an entry starts (the one owner of the layout), and where the CRC goes. */
function layout(ws: WireSchema, idLength: number, rows: number, hasPriorities: boolean): { priorities: number; fields: number[]; end: number } {
  let at = pad8(HEADER + idLength);
  const priorities = at;
  if (hasPriorities) at = pad8(at + 8 * rows);
  const fields = ws.fields.map((f) => {
    const start = at;
    at = pad8(at + rows * f.rowBytes);
    return start;
  });
  return { priorities, fields, end: at };
}

/** Why an entry was refused; the message is what the dead-letter stream records. */
export class EntryError extends Error {}

/** Decodes and checks an entry; throws {@link EntryError} with the reason when it is malformed or of another schema. */
export function decodeEntry(ws: WireSchema, buf: Buffer): DecodedEntry {
  if (!Buffer.isBuffer(buf)) throw new EntryError('entry is not binary');
  if (buf.length < HEADER + 1 + 4) throw new EntryError(`entry of ${buf.length} bytes is shorter than a header`);
  if (buf.readUInt32LE(0) !== MAGIC) throw new EntryError('bad magic: not a replaykit entry');
  const version = buf.readUInt8(4);
  if (version !== ENTRY_VERSION) throw new EntryError(`entry format version ${version}, expected ${ENTRY_VERSION}`);
  const stored = buf.readUInt32LE(buf.length - 4);
  if (crc32(buf.subarray(0, buf.length - 4)) !== stored) throw new EntryError('checksum mismatch: entry corrupt');
  const flags = buf.readUInt8(5);
  if ((flags & ~FLAG_PRIORITIES) !== 0) throw new EntryError(`unknown flags 0x${flags.toString(16)}`);
  if (!buf.subarray(8, 16).equals(ws.hash)) throw new EntryError(`schema hash ${buf.subarray(8, 16).toString('hex')} differs from the buffer's ${ws.hash.toString('hex')}`);
  const idLen = buf.readUInt16LE(6);
  if (idLen < 1 || idLen > MAX_ACTOR_ID) throw new EntryError(`actor id length ${idLen} out of 1..${MAX_ACTOR_ID}`);
  const seq = buf.readBigUInt64LE(16);
  if (seq > BigInt(Number.MAX_SAFE_INTEGER)) throw new EntryError('sequence number beyond 2^53 - 1');
  const rows = buf.readUInt32LE(24);
  if (rows < 1) throw new EntryError('entry has no rows');
  const hasPriorities = (flags & FLAG_PRIORITIES) !== 0;
  const at = layout(ws, idLen, rows, hasPriorities);
  if (buf.length !== at.end + 4) throw new EntryError(`entry of ${buf.length} bytes, expected ${at.end + 4} for ${rows} rows`);
  let actorId: string;
  try {
    actorId = UTF8.decode(buf.subarray(HEADER, HEADER + idLen));
  } catch {
    // Lenient decoding would map distinct byte strings to one id (U+FFFD), mixing two actors' sequences.
    throw new EntryError('actor id is not valid UTF-8');
  }
  const priorities = hasPriorities ? (column(Float64Array, rows, buf, at.priorities) as Float64Array) : undefined;
  const columns: Record<string, AnyTypedArray> = {};
  ws.fields.forEach((f, i) => {
    columns[f.name] = column(DTYPES[f.dtype].ctor, rows * f.elements, buf, at.fields[i]);
  });
  return { actorId, sequence: Number(seq), rows, priorities, columns };
}

type TypedArrayCtor = (typeof DTYPES)[Dtype]['ctor'];
type ViewCtor = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => AnyTypedArray;

// `count` elements at buf[at..]: a view when the bytes are aligned for the element size (a
// typed array cannot start mid-element), else a copy into a fresh array. Saves the learner
// an allocation and a copy an entry whenever the actor id's length leaves the fields aligned.
function column(ctor: TypedArrayCtor, count: number, buf: Buffer, at: number): AnyTypedArray {
  const offset = buf.byteOffset + at;
  if (offset % ctor.BYTES_PER_ELEMENT === 0) return new (ctor as unknown as ViewCtor)(buf.buffer, offset, count);
  const dst = new ctor(count) as AnyTypedArray;
  new Uint8Array(dst.buffer, 0, dst.byteLength).set(buf.subarray(at, at + dst.byteLength));
  return dst;
}
