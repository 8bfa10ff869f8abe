// Before the Redis tests: redis-server must be there (installed with apt-get as root on
// Debian/Ubuntu when missing, else a clear message), and the compiled package (dist/, from
// `npm run build:ts`) that the child processes of the fault tests run.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { ensureRedisServer } = require('../../scripts/redis-server.js');

module.exports = async function globalSetup() {
  ensureRedisServer();
  try {
    require.resolve('ioredis');
  } catch {
    throw new Error("the Redis tests need the package 'ioredis' (a devDependency of replaykit): run npm install");
  }
  const dist = path.join(__dirname, '..', '..', 'dist', 'lib', 'redis', 'index.js');
  if (!fs.existsSync(dist)) throw new Error(`${dist} is missing: run npm run build:ts first (npm run test:redis does)`);
};
