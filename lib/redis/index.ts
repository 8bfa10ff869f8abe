/**
 * `replaykit/redis`: remote actors over Redis Streams. Actors on any machine push rows
 * with {@link RedisActor}; the learner feeds its buffer with {@link RedisIngest}. Needs the
 * optional peer dependency `ioredis` (a {@link DependencyError} names it when missing) and
 * Redis >= 7.0 (for the consumer group's `lag`).
 * @packageDocumentation
 */
export { RedisActor } from './actor';
export type { RedisActorOptions, SendOptions } from './actor';
export { RedisIngest } from './ingest';
export type { IngestState, IngestStats, IngestTarget, RedisIngestOptions } from './ingest';
export type { ConnectionOptions } from './client';
export { ENTRY_VERSION } from './codec';
export { DependencyError, RemoteError } from './errors';
