#!/usr/bin/env node
// Starts a real redis-server for the Redis tests, the distributed demo and the bench: on a
// free loopback port, in a temporary directory, no RDB snapshots, the append-only file on or
// off. When redis-server is missing, installs it with apt-get as root on Debian/Ubuntu (as
// scripts/test-cpp.js does for cmake), else says how to install it.
//
// As a module: const { startRedis } = require('./redis-server'); const r = await startRedis({ appendonly: true });
//   r.url, r.port, r.dir; await r.stop(); await r.restart(); r.kill() (SIGKILL).
// As a command: node scripts/redis-server.js   (prints the URL, runs until Ctrl-C)
'use strict';
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

function has(cmd) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Makes sure redis-server is on PATH; installs it with apt-get when root on Debian/Ubuntu. */
function ensureRedisServer() {
  if (has('redis-server')) return;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root || !has('apt-get')) {
    throw new Error('redis-server (>= 7.0) is needed; install it (e.g. apt-get install redis-server) and run again.');
  }
  console.log('Installing redis-server with apt-get...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'redis-server'], { stdio: 'inherit', env });
}

/** A free TCP port on 127.0.0.1 (asked of the kernel). */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function waitForPort(port, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null) return reject(new Error(`redis-server exited with code ${child.exitCode}`));
      const sock = net.connect(port, '127.0.0.1');
      sock.once('connect', () => {
        sock.write('PING\r\n');
        sock.once('data', (d) => {
          sock.destroy();
          // A server loading its AOF answers -LOADING: not ready yet.
          if (d.toString().startsWith('+PONG')) resolve();
          else if (Date.now() > deadline) reject(new Error('redis-server did not become ready'));
          else setTimeout(attempt, 25);
        });
      });
      sock.once('error', () => {
        sock.destroy();
        if (Date.now() > deadline) reject(new Error(`redis-server did not listen on ${port} within ${timeoutMs} ms`));
        else setTimeout(attempt, 25);
      });
    };
    attempt();
  });
}

/**
 * Starts redis-server. Options: appendonly (default false), port (default: a free one),
 * dir (default: a fresh temporary directory, removed by stop()).
 */
async function startRedis(options = {}) {
  ensureRedisServer();
  const appendonly = options.appendonly ?? false;
  const port = options.port ?? (await freePort());
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'replaykit-redis-'));
  let child;
  const launch = async () => {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', appendonly ? 'yes' : 'no', '--appendfsync', 'always', '--dir', dir, '--protected-mode', 'yes', '--loglevel', 'warning'],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    await waitForPort(port, child, 10_000);
  };
  const exited = () => new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', r)));
  // A caller that exits without stop() (an uncaught error, process.exit) leaves no server or
  // directory behind.
  const onExit = () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  await launch();
  const r = {
    port,
    dir,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return child.pid;
    },
    /** Stops the server (SIGTERM, which also fsyncs the AOF) and waits for it. */
    async shutdown() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited();
    },
    /** SIGKILLs the server and waits for it. */
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited();
    },
    /** Starts the server again on the same port and directory (loading its AOF if on). */
    async start() {
      await launch();
    },
    async restart() {
      await r.shutdown();
      await launch();
    },
    /** Stops the server and removes the temporary directory it made. */
    async stop() {
      await r.shutdown();
      process.removeListener('exit', onExit);
      if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return r;
}

module.exports = { startRedis, ensureRedisServer, freePort };

if (require.main === module) {
  startRedis({ appendonly: process.argv.includes('--appendonly') }).then(
    (r) => {
      console.log(r.url);
      const stop = () => r.stop().then(() => process.exit(0));
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    },
    (e) => {
      console.error(e.message);
      process.exit(1);
    },
  );
}
