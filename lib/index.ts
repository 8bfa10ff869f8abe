/**
 * replaykit: experience replay for reinforcement learning in Node.js, on a native C++ core.
 *
 * - {@link ReplayBuffer}: a FIFO ring of transitions, sampled uniformly.
 * - {@link PrioritizedReplayBuffer}: proportional prioritized replay (Schaul et al. 2016).
 *
 * @packageDocumentation
 */
export { ReplayBuffer, ReplayBufferImpl } from './replay-buffer';
export type { ReplayBufferConstructor, SampleOptions } from './replay-buffer';
export { PrioritizedReplayBuffer, PrioritizedReplayBufferImpl } from './prioritized';
export type {
  Eviction,
  PrioritizedBatch,
  PrioritizedOptions,
  PrioritizedPushBatchOptions,
  PrioritizedPushOptions,
  PrioritizedReplayBufferConstructor,
  PrioritizedSampleOptions,
  TopBatch,
} from './prioritized';
export { EpochIterator } from './epochs';
export { Archive, openArchive } from './archive';
export type { LoadOptions, SaveOptions, SaveProgress } from './archive';
export type { EpochOptions } from './epochs';
export { ArchiveError, DtypeError, OutOfRangeError, ReplayError, ShapeError, StateError, StorageError } from './errors';
export type { AnyTypedArray, Dtype, DtypeArrayMap } from './dtypes';
export type {
  Batch,
  BufferOptions,
  ColumnValue,
  Columns,
  CommonOptions,
  FieldSpec,
  FieldsOptions,
  FieldsSpec,
  FieldValue,
  StorageOptions,
  Transition,
  TransitionFields,
  TransitionOptions,
} from './schema';
