#!/usr/bin/env node
// Proves that the package npm would publish installs and works without a compiler:
//
//  1. builds the prebuilt binary with prebuildify (Node-API, stripped, tagged glibc/musl) in a
//     staging directory that holds only the native sources the package ships, so the
//     build-from-source fallback is proven to compile from the tarball's own files; copies it
//     to prebuilds/;
//  2. compiles the TypeScript (npm run build:ts), runs `npm pack` and checks the file list: the
//     prebuild, dist/lib's JavaScript and declarations, the native sources, and nothing else
//     (no tests, bench, examples, build/ leftovers, source maps);
//  3. installs the tarball into a fresh temporary project with --ignore-scripts, so nothing
//     can be compiled there, together with the repository's own TypeScript and @types/node;
//  4. there: require('replaykit') and import('replaykit') give one facade loaded from the
//     prebuild, which is refused under musl (scripts/consumer/dual.cjs); the `replaykit` CLI
//     runs; a TypeScript consumer (scripts/consumer/use.ts, as an ES module and as CommonJS,
//     strict, and again under moduleResolution "bundler") type-checks, with its expected
//     compile errors, and runs against every public API;
//  5. installs it again with install scripts on and LIBC=musl, so that no prebuild matches:
//     the install script builds the addon from the shipped sources, and it loads.
//
// Usage: node scripts/check-package.js [--keep]   (--keep leaves the temporary directory)
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const keep = process.argv.includes('--keep');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'replaykit-package-'));
const step = (what) => console.log(`\n== check:package: ${what} ==`);
const run = (cmd, args, cwd, opts = {}) => execFileSync(cmd, args, { cwd, stdio: 'inherit', ...opts });
const output = (cmd, args, cwd, opts = {}) => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], ...opts });
const fail = (msg) => {
  throw new Error(`check:package: ${msg}`);
};

function main() {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const tuple = `${process.platform}-${process.arch}`;

  step(`prebuild for ${tuple}, from the shipped sources only`);
  // The shipped files, as npm computes them from `files` (scripts off: dist/ may not exist yet).
  const listed = JSON.parse(output(npm, ['pack', '--dry-run', '--json', '--ignore-scripts'], root))[0].files.map((f) => f.path);
  const sources = listed.filter((f) => !f.startsWith('dist/') && !f.startsWith('prebuilds/'));
  if (!sources.includes('binding.gyp')) fail('binding.gyp is not in the package: no build from source is possible');
  const stage = path.join(tmp, 'stage');
  for (const f of sources) {
    fs.mkdirSync(path.dirname(path.join(stage, f)), { recursive: true });
    fs.copyFileSync(path.join(root, f), path.join(stage, f));
  }
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(stage, 'node_modules'), 'dir');
  run(npm, ['run', 'prebuild'], stage);
  const built = path.join(stage, 'prebuilds', tuple);
  const binaries = fs.readdirSync(built).filter((f) => f.endsWith('.node'));
  if (binaries.length !== 1) fail(`expected one prebuild in ${built}, got ${binaries.join(', ') || 'none'}`);
  fs.rmSync(path.join(root, 'prebuilds', tuple), { recursive: true, force: true });
  fs.mkdirSync(path.join(root, 'prebuilds', tuple), { recursive: true });
  fs.copyFileSync(path.join(built, binaries[0]), path.join(root, 'prebuilds', tuple, binaries[0]));

  step('npm run build:ts, npm pack');
  run(npm, ['run', 'build:ts'], root);
  const packed = JSON.parse(output(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], root))[0];
  const files = packed.files.map((f) => f.path).sort();
  const tarball = path.join(tmp, packed.filename);
  const want = [
    `prebuilds/${tuple}/${binaries[0]}`,
    'package.json',
    'README.md',
    'binding.gyp',
    'dist/lib/index.js',
    'dist/lib/index.d.ts',
    'dist/lib/esm.mjs',
    'dist/lib/esm.d.mts',
    'dist/lib/native/addon.js',
    pkg.bin.replaykit,
    'native/binding/addon.cpp',
    'dist/lib/redis/index.js',
    'dist/lib/redis/index.d.ts',
    'dist/lib/redis/esm.mjs',
    'dist/lib/redis/esm.d.mts',
  ];
  for (const f of want) if (!files.includes(f)) fail(`${f} is missing from the tarball`);
  const unwanted = files.filter((f) => /^(tests|bench|examples|build[^/]*|docs|scripts|node_modules|dist\/examples|native\/(tests|fuzz))\//.test(f) || /\.(map|tsbuildinfo|o|orig|tgz|log)$/.test(f) || (f.startsWith('dist/') && f.endsWith('.ts') && !f.endsWith('.d.ts')));
  if (unwanted.length) fail(`the tarball holds files users do not need:\n  ${unwanted.join('\n  ')}`);
  if (files.some((f) => f.startsWith('build/'))) fail('the tarball holds build/: node-gyp-build would prefer it to the prebuild');
  console.log(files.map((f) => `  ${f}`).join('\n'));
  console.log(`${packed.filename}: ${files.length} files, ${(packed.size / 1024).toFixed(1)} kB packed, ${(packed.unpackedSize / 1024).toFixed(1)} kB unpacked`);

  step('install the tarball into a fresh project, install scripts disabled');
  const app = path.join(tmp, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'replaykit-consumer', version: '1.0.0', private: true }, null, 2));
  const version = (name) => JSON.parse(fs.readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
  run(npm, ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--save-exact', tarball, `typescript@${version('typescript')}`, `@types/node@${version('@types/node')}`], app);
  const installed = path.join(app, 'node_modules', 'replaykit');
  if (fs.existsSync(path.join(installed, 'build'))) fail('the installed package has a build/ directory');
  if (!fs.existsSync(path.join(installed, 'prebuilds', tuple, binaries[0]))) fail('the installed package has no prebuild');

  step('require and import, one facade, the prebuild; musl refuses it');
  fs.copyFileSync(path.join(__dirname, 'consumer', 'dual.cjs'), path.join(app, 'dual.cjs'));
  run(process.execPath, ['dual.cjs'], app);

  step('replaykit/redis without its optional peer ioredis: loads, and says to install it when used');
  run(process.execPath, ['-e', `
    const assert = require('node:assert');
    const redis = require('replaykit/redis');
    assert.throws(() => new redis.RedisActor({ url: 'redis://127.0.0.1:1', stream: 's', actorId: 'a', schema: { x: { shape: [], dtype: 'float32' } } }),
      (e) => e instanceof redis.DependencyError && e instanceof require('replaykit').ReplayError && /ioredis/.test(e.message));
    import('replaykit/redis').then((m) => assert.strictEqual(m.RedisIngest, redis.RedisIngest));`], app);

  step('the replaykit command');
  const archive = path.join(app, 'a.rkb');
  run(process.execPath, ['-e', `const rk = require('replaykit'); const rb = new rk.ReplayBuffer({ capacity: 4, obsShape: [1], seed: 1 }); rb.saveSync(${JSON.stringify(archive)}); rb.close();`], app);
  const inspected = JSON.parse(output(path.join(app, 'node_modules', '.bin', 'replaykit'), ['inspect', archive, '--json'], app));
  if (typeof inspected !== 'object' || inspected === null) fail('replaykit inspect --json printed no object');

  step('a TypeScript consumer: type-check (ES module and CommonJS, nodenext and bundler) and run');
  const use = fs.readFileSync(path.join(__dirname, 'consumer', 'use.ts'), 'utf8');
  fs.writeFileSync(path.join(app, 'use.mts'), use);
  fs.writeFileSync(path.join(app, 'use.cts'), use);
  const compilerOptions = {
    target: 'ES2022',
    lib: ['ES2022', 'ESNext.Disposable'],
    module: 'nodenext',
    moduleResolution: 'nodenext',
    strict: true,
    skipLibCheck: false, // the package's own declarations must compile too
    types: ['node'],
    outDir: 'out',
  };
  fs.writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['use.mts', 'use.cts'] }, null, 2));
  fs.writeFileSync(
    path.join(app, 'tsconfig.bundler.json'),
    JSON.stringify({ compilerOptions: { ...compilerOptions, module: 'esnext', moduleResolution: 'bundler', noEmit: true }, files: ['use.mts'] }, null, 2),
  );
  const tsc = path.join(app, 'node_modules', 'typescript', 'bin', 'tsc');
  run(process.execPath, [tsc, '-p', 'tsconfig.json'], app);
  run(process.execPath, [tsc, '-p', 'tsconfig.bundler.json'], app);
  run(process.execPath, [path.join('out', 'use.mjs')], app);
  run(process.execPath, [path.join('out', 'use.cjs')], app);

  step('where no prebuild matches (LIBC=musl), the install script builds from source');
  const musl = path.join(tmp, 'musl');
  fs.mkdirSync(musl);
  fs.writeFileSync(path.join(musl, 'package.json'), JSON.stringify({ name: 'replaykit-from-source', version: '1.0.0', private: true }, null, 2));
  const env = { ...process.env, LIBC: 'musl' };
  run(npm, ['install', '--no-audit', '--no-fund', '--foreground-scripts', tarball], musl, { env });
  const fromSource = output(process.execPath, ['-e', `
    const rk = require('replaykit');
    const b = new rk.ReplayBuffer({ capacity: 4, obsShape: [1], seed: 1 });
    b.push({ obs: [1], action: 0, reward: 1, nextObs: [2], terminated: false, truncated: false });
    if (b.sample(1).nextObs[0] !== 2) throw new Error('bad sample');
    console.log(require('node-gyp-build').path(require('node:path').dirname(require.resolve('replaykit/package.json'))));`], musl, { env });
  if (!fromSource.includes(path.join('build', 'Release'))) fail(`expected the addon built from source, got ${fromSource}`);
  console.log(`built from source and loaded: ${path.relative(musl, fromSource.trim())}`);

  console.log(`\ncheck:package: ${packed.filename} installs without a compiler and works from JavaScript (require, import) and TypeScript; it builds from source where no prebuild matches`);
}

try {
  main();
} catch (e) {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
} finally {
  if (keep) console.log(`kept ${tmp}`);
  else fs.rmSync(tmp, { recursive: true, force: true });
}
