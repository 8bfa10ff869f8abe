/**
 * Checking an archive's checksums: the header's (cheap: header and section table only) and
 * each section's (reads the whole file, in chunks).
 * @module
 */
import { crc32 } from 'node:zlib';
import { ArchiveError } from '../errors';
import { HEADER_CRC_OFFSET } from '../native/codes';
import type { ArchiveInfo, NativeArchiveMap } from '../native/contract';

/** Bytes checksummed at a time: progress and yields to the event loop come between chunks. */
const VERIFY_CHUNK = 64 << 20;

/** Throws ArchiveError unless the header's checksum holds. @internal */
export function verifyHeader(info: ArchiveInfo, map: NativeArchiveMap): void {
  const head = new Uint8Array(info.tableEnd);
  map.head(head);
  new DataView(head.buffer).setUint32(HEADER_CRC_OFFSET, 0, true);
  if (crc32(head) !== info.headerCrc) throw new ArchiveError('the archive is corrupt: the header checksum does not match');
}

/**
 * Checksums section `s` of the file `bytes` chunk by chunk, yielding the bytes of each chunk
 * as it is done (so callers can report progress and await between chunks); returns whether
 * the checksum holds.
  * @internal
 */
export function* checkSection(bytes: ArrayBuffer, s: ArchiveInfo['sections'][number]): Generator<number, boolean, undefined> {
  let crc = 0;
  for (let at = 0; at < s.length; at += VERIFY_CHUNK) {
    const n = Math.min(VERIFY_CHUNK, s.length - at);
    crc = crc32(new Uint8Array(bytes, s.offset + at, n), crc);
    yield n;
  }
  return crc === s.crc;
}

/** Whether section `s` of the file `bytes` has its checksum, all at once. @internal */
export function sectionHolds(bytes: ArrayBuffer, s: ArchiveInfo['sections'][number]): boolean {
  const it = checkSection(bytes, s);
  for (let r = it.next(); ; r = it.next()) if (r.done) return r.value;
}
