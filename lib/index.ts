/**
 * replaykit: experience replay for reinforcement learning in Node.js, on a native C++ core.
 *
 * - {@link ReplayBuffer}: a FIFO ring of transitions, sampled uniformly.
 * - {@link PrioritizedReplayBuffer}: proportional prioritized replay (Schaul et al. 2016).
 * - {@link ReplayWriter}: actors in worker threads pushing into a buffer (its `writerHandle()`).
 *
 * @packageDocumentation
 */
export { PrioritizedReplayBuffer, ReplayBuffer } from './buffer/public';
export type { PrioritizedReplayBufferConstructor, ReplayBufferConstructor } from './buffer/public';
export type {
  Eviction,
  PrioritizedBatch,
  PrioritizedOptions,
  PrioritizedPushBatchOptions,
  PrioritizedPushOptions,
  PrioritizedSampleOptions,
  TopBatch,
} from './schema/prioritized';
export { ReplayWriter } from './actors/replay-writer';
export type { WriterHandle } from './actors/handle';
export { EpochIterator } from './epochs/iterator';
export type { EpochOptions } from './epochs/iterator';
export type { BatchesOptions } from './buffer/prefetch';
export type { NStepOptions, SequenceOptions } from './schema/episodes';
export type { ComputeReward, HerOptions } from './schema/her';
export type { FrameStackOptions } from './schema/derived';
export { Archive, openArchive } from './archive/archive';
export type { SaveOptions, SaveProgress } from './archive/save';
export type { LoadOptions } from './archive/load';
export { ArchiveError, DtypeError, OutOfRangeError, RateLimitError, ReplayError, ShapeError, StateError, StorageError } from './errors';
export type { RateLimiter, RateLimiterStats } from './buffer/rate-limiter';
export type { RateLimiterOptions, RateWaitOptions } from './schema/rate-limiter';
export type { AnyTypedArray, Dtype, DtypeArrayMap } from './schema/dtypes';
export type { StorageOptions } from './schema/storage';
export type {
  Batch,
  SequenceBatch,
  BufferOptions,
  ColumnValue,
  Columns,
  CommonOptions,
  FieldSpec,
  FieldsOptions,
  FieldsSpec,
  WithNext,
  FieldValue,
  PushBatchOptions,
  PushOptions,
  SampleOptions,
  Transition,
  TransitionFields,
  TransitionOptions,
} from './schema/types';
