/**
 * The uniform replay buffer: the shared base with the uniform sampler, and `load`, which
 * makes a buffer of whichever kind an archive holds. Its public constructor type is in ./public.
 * @module
 */
import type { Batch, BufferOptions, FieldsSpec, SampleOptions } from '../schema/types';
import { load, loadSync, LoadOptions, MakeBuffer, missingAndEmpty } from '../archive/load';
import { loadOptions, withoutLoadKeys } from '../schema/options';
import { bufferState, ReplayBufferBase } from './base';
import { makePrioritized, PrioritizedReplayBuffer } from './prioritized-replay-buffer';
import { archivedPrioritizedOptions, uniformKind } from './samplers';

/** The runtime class behind the public `ReplayBuffer` (./public documents it). */
export class ReplayBuffer<F extends FieldsSpec = FieldsSpec> extends ReplayBufferBase<F, Batch<F>, SampleOptions<F>> {
  constructor(options: BufferOptions) {
    super(options, uniformKind);
  }

  /**
   * Loads an archive written by `save`: a buffer of the archived kind (uniform or
   * prioritized), schema and options, whose next batches are bit-identical to those the
   * saved buffer would have drawn next. Every checksum is verified first.
   * @param options `storage` for the loaded buffer; `ifMissing: 'empty'` with full
   *   constructor options to start an empty buffer when no file is at `path`.
   * @throws {@link ArchiveError} for a missing, truncated, corrupt or foreign file, or one
   *   whose buffer would not fit in memory.
   */
  static async load<F extends FieldsSpec = FieldsSpec>(path: string, options?: LoadOptions & Partial<BufferOptions>): Promise<ReplayBuffer<F>> {
    const o = loadOptions(options);
    if (missingAndEmpty(path, o)) return new ReplayBuffer<F>(withoutLoadKeys(o) as BufferOptions);
    return (await load(path, o, makeEither)) as ReplayBuffer<F>;
  }

  /** As {@link load}, synchronously. */
  static loadSync<F extends FieldsSpec = FieldsSpec>(path: string, options?: LoadOptions & Partial<BufferOptions>): ReplayBuffer<F> {
    const o = loadOptions(options);
    if (missingAndEmpty(path, o)) return new ReplayBuffer<F>(withoutLoadKeys(o) as BufferOptions);
    return loadSync(path, o, makeEither) as ReplayBuffer<F>;
  }

  /**
   * Every buffer is a ReplayBuffer: a PrioritizedReplayBuffer shares its base rather than
   * extending this class (so that `load` here can make one without an import cycle), and
   * `instanceof ReplayBuffer` says so. Subclasses keep the ordinary test.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== ReplayBuffer) return Function.prototype[Symbol.hasInstance].call(this, value);
    return value instanceof ReplayBufferBase;
  }
}

/** Makes the buffer of whichever kind an archive holds. */
const makeEither: MakeBuffer<ReplayBuffer | PrioritizedReplayBuffer> = (info, base) => {
  if (archivedPrioritizedOptions(info) !== null) return makePrioritized(info, base);
  const buffer = new ReplayBuffer(base);
  return { buffer, state: bufferState(buffer) };
};
