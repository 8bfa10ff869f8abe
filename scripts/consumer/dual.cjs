// Plain JavaScript in the fresh project (see scripts/check-package.js): require('replaykit')
// and import('replaykit') give one and the same facade, the binary is the prebuild shipped in
// the tarball, and a glibc prebuild is refused where the C library is musl.
'use strict';
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');

async function main() {
  const cjs = require('replaykit');
  const esm = await import('replaykit');
  const names = Object.keys(cjs).filter((k) => k !== '__esModule').sort();
  assert.ok(names.includes('ReplayBuffer') && names.includes('PrioritizedReplayBuffer') && names.includes('openArchive'));
  for (const k of names) assert.equal(esm[k], cjs[k], `import and require differ on ${k}`);
  assert.equal(esm.default, cjs);

  const rb = new esm.ReplayBuffer({ capacity: 8, obsShape: [2], actionDtype: 'int32', seed: 1 });
  rb.push({ obs: [1, 2], action: 1, reward: 1, nextObs: [2, 3], terminated: false, truncated: false });
  assert.ok(rb.sample(1).obs instanceof Float32Array);
  assert.ok(rb instanceof cjs.ReplayBuffer);
  rb.close();

  const root = path.dirname(require.resolve('replaykit/package.json'));
  const binary = require('node-gyp-build').path(root);
  assert.equal(path.relative(root, binary), path.join('prebuilds', `${process.platform}-${process.arch}`, 'replaykit.glibc.node'));
  const loaded = process.report ? process.report.getReport().sharedObjects.filter((f) => f.endsWith('.node')) : [binary];
  assert.deepEqual(loaded.map((f) => require('node:fs').realpathSync(f)), [require('node:fs').realpathSync(binary)]);

  // Where the C library is musl, node-gyp-build must not pick the glibc binary (it would then
  // build from source at install time instead).
  const musl = spawnSync(process.execPath, ['-e', `require('node-gyp-build').path(${JSON.stringify(root)})`], {
    env: { ...process.env, LIBC: 'musl' },
    encoding: 'utf8',
  });
  assert.notEqual(musl.status, 0, 'the glibc prebuild was accepted for musl');
  assert.match(musl.stderr, /No native build was found for .*libc=musl/);

  console.log(`dual ok: ${names.length} exports, one facade for require and import, binary ${path.relative(root, binary)}`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
