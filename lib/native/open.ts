/**
 * The facade's doors to the addon: a native buffer made from a resolved schema and
 * options in the facade's terms (the binding takes the same names), a writer on a buffer
 * shared by another thread, and a read-only mapping of an archive file.
 * @module
 */
import { addon } from './addon';
import type { NativeArchiveMap, NativeBuffer, NativePrefetcher, NativeSpec, NativeWriter, RateConfigJs } from './contract';
import type { ResolvedField } from '../schema/fields';
import type { StorageOptions } from '../schema/storage';
import type { ResolvedEpisodes } from '../schema/episodes';
import type { ResolvedDerived } from '../schema/derived';
import type { ResolvedHer } from '../schema/her';
import type { BatchLayout } from '../buffer/batches';

/** What a native buffer is made from, in the facade's terms. @internal */
export interface NativeBufferSpec {
  capacity: number;
  fields: readonly ResolvedField[];
  storage: StorageOptions;
  /** Prioritized replay's settings, all held by the core's sampler; null for a uniform buffer. */
  prioritized: NativeSpec['prioritized'];
  /** The rate limiter's options, validated; null for none. */
  rateLimiter: { minSize: number; samplesPerInsert?: number; errorBuffer?: number } | null;
  /** The episode index and n-step returns, validated; null for none. */
  episodes: ResolvedEpisodes | null;
  /** Observations stored once, validated; null for none. They keep the episode index too. */
  derived: ResolvedDerived | null;
  /** Hindsight relabelling (with episodes); null for none. */
  her: ResolvedHer | null;
}

/** A native buffer (throws the errors the binding raises: StorageError for a file it cannot make, ...). @internal */
export function openNativeBuffer(spec: NativeBufferSpec): NativeBuffer {
  return new addon.NativeBuffer({
    capacity: spec.capacity,
    fields: spec.fields.map((f) => ({ name: f.name, dtype: f.dtype, shape: f.shape })),
    prioritized: spec.prioritized,
    storage: spec.storage,
    rateLimiter: spec.rateLimiter,
    episodes: spec.episodes && {
      terminated: spec.episodes.terminated,
      truncated: spec.episodes.truncated,
      ...(spec.episodes.nStep && { reward: spec.episodes.nStep.fields.reward, nextObs: spec.episodes.nStep.fields.nextObs }),
      nStep: spec.episodes.nStep && { n: spec.episodes.nStep.n, gamma: spec.episodes.nStep.gamma },
      ...(spec.her && { her: { goal: spec.her.goal, achievedGoal: spec.her.achievedGoal, nextAchievedGoal: spec.her.nextAchievedGoal, strategy: spec.her.strategy, k: spec.her.k } }),
    },
    derived: spec.derived && { obs: spec.derived.obs, next: spec.derived.next, frames: spec.derived.frames, validateNext: spec.derived.validateNext },
  });
}

/** The core's configuration for rate limiter options: Reverb's rules and the default errorBuffer are the core's (OutOfRangeError naming the option). @internal */
export function rateLimiterConfig(options: { minSize: number; samplesPerInsert?: number; errorBuffer?: number }): RateConfigJs {
  const o: { minSize: number; samplesPerInsert?: number; errorBuffer?: number } = { minSize: options.minSize };
  if (options.samplesPerInsert !== undefined) o.samplesPerInsert = options.samplesPerInsert;
  if (options.errorBuffer !== undefined) o.errorBuffer = options.errorBuffer;
  return addon.rateLimiterConfig(o);
}

/** Maps an archive file read-only; the binding checks its structure and header checksum (ArchiveError when it is not an archive). @internal */
export function openArchiveMap(path: string): NativeArchiveMap {
  return new addon.ArchiveMap(path);
}

/** A writer on the buffer a handle names (StateError for a handle of another process or a closed buffer). @internal */
export function openNativeWriter(buffer: number, process: number): NativeWriter {
  return new addon.NativeWriter(buffer, process);
}

/** A prefetch thread on `buffer`; `wake` runs on this thread when an armed wait ends. @internal */
export function openNativePrefetcher(buffer: NativeBuffer, wake: () => void, layout: BatchLayout, statuses: Int32Array): NativePrefetcher {
  const ids = buffer.share();
  const l = Float64Array.of(layout.rows, layout.bytes, layout.indices, layout.weights, layout.discount, layout.relabelled, ...layout.fields);
  return new addon.NativePrefetcher(ids.buffer, ids.process, wake, l, statuses);
}
