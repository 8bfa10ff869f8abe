#!/usr/bin/env node
// Fuzzes the native archive parser and restore with libFuzzer (clang, AddressSanitizer,
// UndefinedBehaviorSanitizer):  npm run fuzz -- [seconds=60]
// Builds build-fuzz/ with clang++, writes a seed corpus of valid archives, then fuzzes.
// On a bare Debian/Ubuntu machine run as root it installs clang and its runtime first.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const seconds = Number(process.argv[2] ?? 60);
if (!Number.isInteger(seconds) || seconds < 1) {
  console.error('usage: npm run fuzz -- [seconds]');
  process.exit(2);
}
const run = (cmd, args, env) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
const has = (cmd) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
const hasRuntime = () => {
  const probe = spawnSync('clang++', ['-print-file-name=libclang_rt.fuzzer-x86_64.a'], { encoding: 'utf8' });
  return probe.status === 0 && fs.existsSync(probe.stdout.trim());
};

if (!has('clang++') || !hasRuntime() || !has('cmake')) {
  if (process.getuid?.() !== 0 || !has('apt-get')) {
    console.error('Fuzzing needs cmake, clang and its runtime (apt-get install cmake clang libclang-rt-14-dev).');
    process.exit(1);
  }
  console.log('Installing cmake, clang and its runtime with apt-get...');
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-qq'], env);
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'cmake', 'clang', 'libclang-rt-14-dev'], env);
}
const build = path.join(root, 'build-fuzz');
run('cmake', ['-S', '.', '-B', build, '-DREPLAYKIT_FUZZ=ON', '-DREPLAYKIT_TESTS=OFF', '-DCMAKE_BUILD_TYPE=RelWithDebInfo', '-Wno-dev'], { CXX: 'clang++' });
run('cmake', ['--build', build, '--parallel', '2', '--target', 'replaykit_fuzz_archive', 'replaykit_fuzz_corpus']);
const corpus = path.join(build, 'corpus');
fs.mkdirSync(corpus, { recursive: true });
run(path.join(build, 'replaykit_fuzz_corpus'), [corpus]);
run(path.join(build, 'replaykit_fuzz_archive'), [`-max_total_time=${seconds}`, '-rss_limit_mb=2048', '-max_len=65536', '-print_final_stats=1', corpus]);
console.log(`fuzzed the archive parser for ${seconds} s: no crash`);
