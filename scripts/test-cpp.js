#!/usr/bin/env node
// Builds the C++ core with its tests (CMake + doctest) twice, plainly and under
// AddressSanitizer + UndefinedBehaviorSanitizer, and runs both with ctest.
// On a bare Debian/Ubuntu machine run as root, it installs cmake and doctest first.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });
const has = (cmd) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
const hasDoctest = () => ['/usr/include/doctest/doctest.h', '/usr/local/include/doctest/doctest.h'].some((p) => fs.existsSync(p));

function ensureTools() {
  const missing = [];
  if (!has('cmake')) missing.push('cmake');
  if (!hasDoctest()) missing.push('doctest-dev');
  if (missing.length === 0) return;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root || !has('apt-get')) {
    console.error(`The C++ tests need ${missing.join(' and ')}; install them (e.g. apt-get install ${missing.join(' ')}) and run again.`);
    process.exit(1);
  }
  console.log(`Installing ${missing.join(', ')} with apt-get...`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
}

ensureTools();
const generator = has('ninja') ? ['-G', 'Ninja'] : [];
const builds = [
  { dir: 'build-cpp', flags: ['-DCMAKE_BUILD_TYPE=RelWithDebInfo'] },
  { dir: 'build-cpp-sanitize', flags: ['-DCMAKE_BUILD_TYPE=Debug', '-DREPLAYKIT_SANITIZE=ON'] },
];
for (const b of builds) {
  console.log(`\n== C++ core tests: ${b.dir} ==`);
  run('cmake', ['-S', '.', '-B', b.dir, ...generator, ...b.flags, '-Wno-dev']);
  run('cmake', ['--build', b.dir, '--parallel', '2']);
  run('ctest', ['--test-dir', b.dir, '--output-on-failure']);
}
