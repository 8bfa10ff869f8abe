/**
 * An archive's bytes in the order a save writes them: the plan the core makes of the file,
 * each section gathered from the core chunk by chunk, and the header with the sections'
 * checksums (CRC-32, Node's zlib.crc32) and its own.
 * @module
 */
import { crc32 } from 'node:zlib';
import { ARCHIVE_PART, EPOCH_RECORD_BYTES, HEADER_CRC_OFFSET, SECTION } from '../native/codes';
import type { ArchiveMetaJs, NativeBuffer } from '../native/contract';

/** What a save needs from a buffer. @internal */
export interface Saveable {
  readonly native: NativeBuffer;
  readonly closed: boolean;
  /** True while a save runs: the buffer refuses changes. */
  saving: boolean;
  /** The facade's state for the archive (the core reads its own). */
  archiveMeta(): ArchiveMetaJs;
}

/** @internal */
export type ArchivePlan = ReturnType<NativeBuffer['planArchive']>;

/** A planned archive of `b` as it is now; `bytes` is what the writes add up to (the file less its padding). @internal */
export interface PlannedArchive {
  meta: ArchiveMetaJs;
  plan: ArchivePlan;
  bytes: number;
}

/** Plans an archive of `b` as it is now. @internal */
export function plan(b: Saveable): PlannedArchive {
  const meta = b.archiveMeta();
  const p = b.native.planArchive(meta);
  return { meta, plan: p, bytes: p.sections.reduce((sum, s) => sum + s.length, p.tableEnd) };
}

/** One write of a save: `bytes` at `position`, part of section `section` (-1: the header). @internal */
export interface Write {
  bytes: Uint8Array;
  position: number;
  section: number;
}

/** The header and section table with the sections' checksums, and its own checksum. @internal */
export function headerWith(b: Saveable, plan: ArchivePlan, crcs: Uint32Array): Uint8Array {
  const header = new Uint8Array(plan.tableEnd);
  b.native.archiveBytes(ARCHIVE_PART.header, header, crcs);
  new DataView(header.buffer).setUint32(HEADER_CRC_OFFSET, crc32(header), true);
  return header;
}

/**
 * The writes of an archive's sections, in order. With `crcs`, it computes each section's
 * checksum into it as it goes and ends with the header; without, the consumer checksums the
 * writes (by `section`) and writes the header itself. `chunk` is reused: each write must be
 * consumed before the next is asked for.
  * @internal
 */
export function* archiveWrites(b: Saveable, p: PlannedArchive, chunkBytes: number, crcs?: Uint32Array): Generator<Write, void, undefined> {
  const { meta, plan } = p;
  let chunk = new Uint8Array(chunkBytes);
  for (let i = 0; i < plan.sections.length; i++) {
    const s = plan.sections[i];
    if (s.kind === SECTION.schema) {
      const bytes = new Uint8Array(s.length);
      b.native.archiveBytes(ARCHIVE_PART.schema, bytes);
      if (crcs) crcs[i] = crc32(bytes);
      yield { bytes, position: s.offset, section: i };
    } else if (s.kind === SECTION.epoch) {
      const record = new Uint8Array(EPOCH_RECORD_BYTES);
      b.native.archiveBytes(ARCHIVE_PART.epochRecord, record);
      const keys = meta.epochKeys ?? new Float64Array(0);
      const keyBytes = new Uint8Array(keys.buffer, keys.byteOffset, keys.byteLength);
      if (crcs) crcs[i] = crc32(keyBytes, crc32(record));
      yield { bytes: record, position: s.offset, section: i };
      if (keyBytes.length) yield { bytes: keyBytes, position: s.offset + EPOCH_RECORD_BYTES, section: i };
    } else {
      const items = s.length / s.itemBytes;
      if (chunk.length < s.itemBytes) chunk = new Uint8Array(s.itemBytes);
      const per = Math.floor(chunk.length / s.itemBytes);
      for (let first = 0; first < items; first += per) {
        const count = Math.min(per, items - first);
        const view = chunk.subarray(0, count * s.itemBytes);
        b.native.exportItems(i, first, count, view);
        if (crcs) crcs[i] = crc32(view, crcs[i]);
        yield { bytes: view, position: s.offset + first * s.itemBytes, section: i };
      }
    }
  }
  if (crcs) yield { bytes: headerWith(b, plan, crcs), position: 0, section: -1 };
}
