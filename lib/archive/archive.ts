/**
 * Archives opened in place: `openArchive` and the read-only {@link Archive}, whose fields are
 * typed arrays viewing the mapped file.
 *
 * The layout (native/core/archive.h) is fixed, little-endian, versioned and 64-byte
 * aligned, in the spirit of rkyv: a typed array can view any field where it lies in the
 * mapped file. Every section carries a CRC-32 (zlib's, computed by the core); `load`
 * verifies all of them, `openArchive` checks the structure and the header's checksum in
 * time that does not grow with the data.
 * @module
 */
import * as nodePath from 'node:path';
import { AnyTypedArray, DTYPES, DtypeArrayMap } from '../schema/dtypes';
import type { FieldSpec, FieldsSpec } from '../schema/types';
import { ShapeError, StateError } from '../errors';
import type { ArchiveInfo, NativeArchiveMap } from '../native/contract';
import { assertIntact, openMap } from './load';

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
  /** The schema: each field's shape and dtype, as pushes take them and batches return them. */
  readonly schema: { readonly [K in keyof F]: FieldSpec<F[K]['dtype']> };
  /**
   * For an archive of a buffer that stores observations once (a field with `next`, `frameStack`):
   * the field stored once, its next field (rebuilt from the next item: no data in the file), the
   * frames of a stack (1: none) and `validateNext`. Undefined otherwise.
   */
  readonly derived: { readonly obs: string; readonly next: string; readonly frames: number; readonly validateNext: boolean } | undefined;
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
    this.kind = info.kind;
    this.capacity = info.capacity;
    this.length = info.length;
    this.fileBytes = info.fileBytes;
    const schema: Record<string, FieldSpec> = {};
    for (const f of info.fields) schema[f.name] = Object.freeze({ shape: Object.freeze([...f.shape]), dtype: f.dtype });
    this.schema = Object.freeze(schema) as Archive<F>['schema'];
    const d = info.derived;
    this.derived = d && Object.freeze({ obs: d.obs, next: d.next, frames: d.frames, validateNext: d.validateNext });
  }

  /**
   * Field `name` of every stored item, oldest first: a typed array of the field's dtype and
   * `length * elements` values, row-major, viewing the file in place (no copy). If another
   * process truncates the file later, the view reads zeros past the new end (no crash).
   *
   * Archives of buffers that store observations once ({@link Archive.derived}) hold the stored
   * rows: the field stored once as it is stored (with `frameStack: { frames: F }`, each item's
   * newest frame only: `length * frameElements` values, e.g. `[84, 84]` a row for a `[4, 84, 84]`
   * field), and no rows for its next field, which only exists rebuilt at sample time (load the
   * archive to sample it).
   * @throws {@link ShapeError} for a field the archive does not have, or a next field rebuilt from
   *   the next item (it has no data in the file); {@link StateError} after `close()`;
   *   {@link ArchiveError} when the file was truncated or damaged since it was opened.
   */
  field<K extends keyof F & string>(name: K): DtypeArrayMap[F[K]['dtype']] {
    this.#assertOpen();
    assertIntact(this.#map as NativeArchiveMap, this.path);
    const f = this.#info.fields.find((x) => x.name === name);
    if (!f) throw new ShapeError(`the archive has no field '${String(name)}'; it has ${this.#info.fields.map((x) => `'${x.name}'`).join(', ')}`);
    if (f.offset === undefined || f.bytes === undefined)
      throw new ShapeError(
        `field '${f.name}' has no data in the archive: its buffer stored each observation once, and '${f.name}' is rebuilt at sample time from the next item's '${this.#info.derived?.obs ?? ''}' (load the archive to sample it)`,
      );
    const ctor = DTYPES[f.dtype].ctor as unknown as new (b: ArrayBuffer, o: number, n: number) => AnyTypedArray;
    return new ctor(this.#buffer(), f.offset, f.bytes / ctor.prototype.BYTES_PER_ELEMENT) as never;
  }

  /** Each item's priority p, oldest first (`Float64Array(length)`, in place); undefined for a uniform buffer's archive. */
  priorities(): Float64Array | undefined {
    this.#assertOpen();
    assertIntact(this.#map as NativeArchiveMap, this.path);
    const p = this.#info.priorities;
    return p === undefined ? undefined : new Float64Array(this.#buffer(), p.offset, p.bytes / 8);
  }

  /**
   * Verifies every section's checksum (reads the whole file; the core checksums each section).
   * @throws {@link StateError} after `close()`; {@link ArchiveError} when the file was truncated or damaged since it was opened.
   */
  verify(): { ok: boolean; sections: { name: string; bytes: number; ok: boolean }[] } {
    this.#assertOpen();
    const map = this.#map as NativeArchiveMap;
    const sections = map.checkSections();
    assertIntact(map, this.path);
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
