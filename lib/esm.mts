/**
 * The ES module entry (`import ... from 'replaykit'`): the CommonJS facade's own exports,
 * re-exported, so that `import` and `require` share one copy of the facade and one native
 * addon. Named exports come from `./index.js`; the default export is the same object that
 * `require('replaykit')` returns.
 * @module
 */
import replaykit from './index.js';

export * from './index.js';
export default replaykit;
