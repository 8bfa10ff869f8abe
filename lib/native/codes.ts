/**
 * Every number that crosses the boundary with the addon today, named: dtype, storage and
 * eviction codes, and the archive format's constants that the facade uses (the header's
 * checksum offset, section kinds and names, flag bits, the epoch record). The core defines
 * them (native/core/schema.h, storage.h, archive.h); this is the facade's one copy, so that
 * when the binding takes names or hands these out itself, only this file changes.
 * @module
 */
import type { Dtype } from '../schema/dtypes';
import type { StorageOptions } from '../schema/storage';
import type { Eviction } from '../schema/prioritized';

/** `replaykit::Dtype` (native/core/schema.h). @internal */
export const DTYPE_CODES: Readonly<Record<Dtype, number>> = { float32: 0, float64: 1, int32: 2, int64: 3, uint8: 4, bool: 5 };

const DTYPE_BY_CODE = new Map<number, Dtype>(Object.entries(DTYPE_CODES).map(([name, code]) => [code, name as Dtype]));

/** The dtype an archive's field record names. @internal */
export function dtypeOfCode(code: number): Dtype {
  return DTYPE_BY_CODE.get(code) as Dtype;
}

/** The storage type codes the native buffer's spec takes. @internal */
export const STORAGE_CODES: Readonly<Record<StorageOptions['type'], number>> = { memory: 0, mmap: 1, tiered: 2 };

/** The eviction codes the native buffer's spec takes. @internal */
export const EVICTION_CODES: Readonly<Record<Eviction, number>> = { fifo: 0, 'lowest-priority': 1 };

/** Where the header's own CRC-32 lies (`ArchiveHeader::header_crc`). @internal */
export const HEADER_CRC_OFFSET = 252;

/** `SectionKind` (native/core/archive.h). @internal */
export const SECTION = { schema: 1, fieldData: 2, keys: 3, writes: 4, inserted: 5, priorities: 6, epoch: 7 } as const;

const SECTION_NAMES: Readonly<Record<number, string>> = { 1: 'schema', 2: 'field data', 3: 'keys', 4: 'writes', 5: 'insertion order', 6: 'priorities', 7: 'epoch state' };

/** A section's name in messages and `replaykit inspect`; a field's data section is named by its field. @internal */
export function sectionName(kind: number, fieldName: string | undefined): string {
  return kind === SECTION.fieldData ? `field '${fieldName}'` : (SECTION_NAMES[kind] ?? 'unknown');
}

/** The part of a section's name an error message adds: `schema`, `field data (field 'obs')`. @internal */
export function sectionMessageName(kind: number, fieldName: string | undefined): string {
  return `${SECTION_NAMES[kind] ?? 'unknown'} section${kind === SECTION.fieldData ? ` (field '${fieldName}')` : ''}`;
}

/** `ArchiveFlags` (native/core/archive.h). @internal */
export const ARCHIVE_FLAGS = { prioritized: 1, lowestPriority: 2 } as const;

/** What `NativeBuffer.archiveBytes` writes: the header and section table, the schema section, the epoch record. @internal */
export const ARCHIVE_PART = { header: 0, schema: 1, epochRecord: 2 } as const;

/** `sizeof(EpochRecord)`: the epoch section's record, before its keys. @internal */
export const EPOCH_RECORD_BYTES = 64;

/** `EpochRecord::flags`. @internal */
export const EPOCH_FLAGS = { shuffle: 1, dropLast: 2, iterator: 4, keys: 8 } as const;
