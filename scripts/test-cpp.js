#!/usr/bin/env node
// Builds the C++ core with its tests (CMake + doctest) three times, plainly, under
// AddressSanitizer + UndefinedBehaviorSanitizer, and under ThreadSanitizer (the concurrency
// tests only: the others have no threads to check), and runs each with ctest.
// On a bare Debian/Ubuntu machine run as root, it installs cmake and doctest first, and clang
// when the default compiler has no working ThreadSanitizer.
// REPLAYKIT_SKIP_TSAN=1 skips the ThreadSanitizer build (say so wherever results are reported).
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
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

// A compiler whose ThreadSanitizer builds and runs a small threaded program here, and the
// command prefix it needs: TSan runtimes older than LLVM 17 / GCC 13 abort at start-up
// ("unexpected memory mapping") on kernels with 32 bits of mmap randomness, which
// `setarch -R` (no address randomisation, for that process and its children) avoids.
const TSAN_PROBE = `#include <mutex>
#include <thread>
int main() { std::mutex m; int x = 0; std::thread t([&] { std::lock_guard<std::mutex> g(m); ++x; });
  { std::lock_guard<std::mutex> g(m); ++x; } t.join(); return x == 2 ? 0 : 1; }
`;
function probeTsan(cxx) {
  if (!has(cxx)) return null;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'replaykit-tsan-'));
  try {
    const src = path.join(dir, 'probe.cpp');
    const exe = path.join(dir, 'probe');
    fs.writeFileSync(src, TSAN_PROBE);
    const built = spawnSync(cxx, ['-std=c++17', '-fsanitize=thread', '-g', src, '-o', exe, '-pthread'], { stdio: 'ignore' });
    if (built.status !== 0) return null;
    if (spawnSync(exe, [], { stdio: 'ignore' }).status === 0) return { cxx, prefix: [] };
    const norandom = ['setarch', os.arch() === 'x64' ? 'x86_64' : os.arch() === 'arm64' ? 'aarch64' : os.arch(), '-R'];
    if (spawnSync(norandom[0], [...norandom.slice(1), exe], { stdio: 'ignore' }).status === 0) return { cxx, prefix: norandom };
    return null;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function findTsan() {
  const candidates = ['g++', 'clang++'];
  for (const cxx of candidates) {
    const found = probeTsan(cxx);
    if (found) return found;
  }
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!has('clang++') && isRoot && has('apt-get')) {
    console.log('No compiler with a working ThreadSanitizer; installing clang with apt-get...');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'clang'], { stdio: 'inherit', env });
    return probeTsan('clang++');
  }
  return null;
}

ensureTools();
const generator = has('ninja') ? ['-G', 'Ninja'] : [];
const builds = [
  { dir: 'build-cpp', flags: ['-DCMAKE_BUILD_TYPE=RelWithDebInfo'] },
  { dir: 'build-cpp-sanitize', flags: ['-DCMAKE_BUILD_TYPE=Debug', '-DREPLAYKIT_SANITIZE=ON'] },
];
if (process.env.REPLAYKIT_SKIP_TSAN === '1') {
  console.log('\nREPLAYKIT_SKIP_TSAN=1: the ThreadSanitizer build is skipped.');
} else {
  const tsan = findTsan();
  if (!tsan) {
    console.error('No compiler here runs ThreadSanitizer programs (tried g++ and clang++, also under setarch -R).\n' +
      'Install clang (apt-get install clang) or a g++ with libtsan, or set REPLAYKIT_SKIP_TSAN=1 to skip that build.');
    process.exit(1);
  }
  builds.push({
    dir: 'build-cpp-tsan',
    // -O1 keeps the instrumented tests quick to build and run while keeping frames for reports.
    flags: [`-DCMAKE_CXX_COMPILER=${tsan.cxx}`, '-DCMAKE_BUILD_TYPE=RelWithDebInfo', '-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g', '-DREPLAYKIT_TSAN=ON'],
    target: 'replaykit_concurrency_tests',
    prefix: tsan.prefix,
    env: { TSAN_OPTIONS: 'halt_on_error=1 second_deadlock_stack=1' },
  });
}
for (const b of builds) {
  console.log(`\n== C++ core tests: ${b.dir} ==`);
  run('cmake', ['-S', '.', '-B', b.dir, ...generator, ...b.flags, '-Wno-dev']);
  // The build runs the tests too (doctest_discover_tests lists them), so it gets the prefix.
  const prefix = b.prefix || [];
  const env = { ...process.env, ...(b.env || {}) };
  const inPrefix = (cmd) => execFileSync(cmd[0], cmd.slice(1), { cwd: root, stdio: 'inherit', env });
  inPrefix([...prefix, 'cmake', '--build', b.dir, '--parallel', '2', ...(b.target ? ['--target', b.target] : [])]);
  inPrefix([...prefix, 'ctest', '--test-dir', b.dir, '--output-on-failure']);
}
