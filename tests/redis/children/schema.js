// The schema of the Redis tests and its rows, shared by the test files (through
// tests/redis/server.ts) and the child processes: `id` names each row so that every row can
// be counted, the other fields are functions of it.
'use strict';
const SCHEMA = {
  id: { shape: [], dtype: 'float64' },
  obs: { shape: [3], dtype: 'float32' },
  action: { shape: [], dtype: 'int32' },
  done: { shape: [], dtype: 'bool' },
};
function row(id) {
  return { id, obs: Float32Array.of(id, id + 0.5, -id), action: id % 5, done: id % 7 === 0 };
}
module.exports = { SCHEMA, row };
