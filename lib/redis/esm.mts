/**
 * The ES module form of `replaykit/redis`: the CommonJS entry's exports, re-exported, so
 * that `import` and `require` share one copy.
 * @module
 */
import redis from './index.js';

export * from './index.js';
export default redis;
