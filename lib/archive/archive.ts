/**
 * Archives opened in place: `openArchive` and the read-only {@link Archive}, whose fields are
 * typed arrays viewing the mapped file.
 *
 * The layout (native/core/archive.h) is fixed, little-endian, versioned and 64-byte
 * aligned, in the spirit of rkyv: a typed array can view any field where it lies in the
 * mapped file. Every section carries a CRC-32 (Node's zlib.crc32); `load` verifies all of
 * them, `openArchive` checks the structure and the header's checksum in time that does
 * not grow with the data.
 * @module
 */
import * as nodePath from 'node:path';
import { AnyTypedArray, DTYPES, DtypeArrayMap } from '../schema/dtypes';
import type { FieldSpec, FieldsSpec } from '../schema/types';
import { ShapeError, StateError } from '../errors';
import { ARCHIVE_FLAGS, dtypeOfCode, sectionName } from '../native/codes';
import type { ArchiveInfo, NativeArchiveMap } from '../native/contract';
import { sectionHolds } from './checksums';
import { openMap } from './load';

/**
 * A read-only archive opened in place: fields are typed arrays viewing the mapped file,
 * with no copy and no parse. Close it to unmap the file; views made before become empty.
 */
export class Archive<F extends FieldsSpec = FieldsSpec> {
  /** The file's absolute path. */
  readonly path: string;
  /** Archive format version. */
  readonly version: number;
  /** `'uniform'` or `'prioritized'`. */
  readonly kind: 'uniform' | 'prioritized';
  /** The archived buffer's capacity. */
  readonly capacity: number;
  /** Items stored. */
  readonly length: number;
  /** File size in bytes. */
  readonly fileBytes: number;
  /** The schema: each field's shape and dtype. */
  readonly schema: { readonly [K in keyof F]: FieldSpec<F[K]['dtype']> };
  #map: NativeArchiveMap | null;
  #info: ArchiveInfo;
  #bytes: ArrayBuffer | null = null;

  /** @internal Use {@link openArchive}. */
  constructor(path: string) {
    const { map, info } = openMap(path);
    this.#map = map;
    this.#info = info;
    this.path = nodePath.resolve(path);
    this.version = info.version;
    this.kind = info.flags & ARCHIVE_FLAGS.prioritized ? 'prioritized' : 'uniform';
    this.capacity = info.capacity;
    this.length = info.length;
    this.fileBytes = info.fileBytes;
    const schema: Record<string, FieldSpec> = {};
    for (const f of info.fields) schema[f.name] = Object.freeze({ shape: Object.freeze([...f.shape]), dtype: dtypeOfCode(f.dtype) });
    this.schema = Object.freeze(schema) as Archive<F>['schema'];
  }

  /**
   * Field `name` of every stored item, oldest first: a typed array of the field's dtype and
   * `length * elements` values, row-major, viewing the file in place (no copy).
   * @throws {@link ShapeError} for a field the archive does not have; {@link StateError} after `close()`.
   */
  field<K extends keyof F & string>(name: K): DtypeArrayMap[F[K]['dtype']] {
    this.#assertOpen();
    const f = this.#info.fields.find((x) => x.name === name);
    if (!f) throw new ShapeError(`the archive has no field '${String(name)}'; it has ${this.#info.fields.map((x) => `'${x.name}'`).join(', ')}`);
    const s = this.#info.sections[f.section];
    const ctor = DTYPES[dtypeOfCode(f.dtype)].ctor as unknown as new (b: ArrayBuffer, o: number, n: number) => AnyTypedArray;
    return new ctor(this.#buffer(), s.offset, s.length / ctor.prototype.BYTES_PER_ELEMENT) as never;
  }

  /** Each item's priority p, oldest first (`Float64Array(length)`, in place); undefined for a uniform buffer's archive. */
  priorities(): Float64Array | undefined {
    this.#assertOpen();
    if (this.#info.prioritiesSection < 0) return undefined;
    const s = this.#info.sections[this.#info.prioritiesSection];
    return new Float64Array(this.#buffer(), s.offset, s.length / 8);
  }

  /** Verifies every section's checksum (reads the whole file). */
  verify(): { ok: boolean; sections: { name: string; bytes: number; ok: boolean }[] } {
    this.#assertOpen();
    const sections = this.#info.sections.map((s) => ({
      name: sectionName(s.kind, this.#info.fields[s.index]?.name),
      bytes: s.length,
      ok: sectionHolds(this.#buffer(), s),
    }));
    return { ok: sections.every((s) => s.ok), sections };
  }

  /** Unmaps the file. Idempotent; views from `field()` become empty. */
  close(): void {
    this.#map?.close();
    this.#map = null;
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #assertOpen(): void {
    if (this.#map === null) throw new StateError('the archive is closed');
  }

  /** The ArrayBuffer over the mapped file, made on first use (zero-copy where the runtime allows). */
  #buffer(): ArrayBuffer {
    this.#bytes ??= (this.#map as NativeArchiveMap).buffer();
    return this.#bytes;
  }
}

/**
 * Opens an archive read-only and in place: maps the file and checks its structure (magic,
 * version, bounds, no overlaps, sizes consistent with the schema) and its header checksum,
 * in time that does not grow with the data. Use `verify()` to check every checksum.
 * @throws {@link ArchiveError} for a missing file or one that is not a valid archive.
 */
export function openArchive<F extends FieldsSpec = FieldsSpec>(path: string): Archive<F> {
  return new Archive<F>(path);
}
