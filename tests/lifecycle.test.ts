/**
 * Lifecycle of the native addon, in the style of classic-level's lifecycle tests: it loads in
 * worker threads and unloads cleanly when they exit, buffers left open free their memory and
 * files however their thread or process ends, and no ending crashes.
 *
 * Every case runs in a fresh node process against the built package (dist/lib, as
 * storage.test.ts's child-process tests do), so that a crash at teardown shows as a signal or
 * a non-zero status instead of taking jest down. (storage.test.ts covers one collected buffer
 * and a process ending with open buffers; these are the other cases.)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { child, entry, expectClean } from './child-process';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'replaykit-lifecycle-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let counter = 0;
/** A fresh empty directory for one test's files. */
const freshDir = () => {
  const d = path.join(dir, `case-${counter++}`);
  fs.mkdirSync(d);
  return d;
};

/** Whether `f` is the temporary file of a save (see lib/archive/files.ts). */
const isSaveTemporary = (f: string) => /^\..*\.tmp-\d+-[0-9a-f]+$/.test(f);

/** Code that fills one standard buffer of each storage and samples from it; `files` names the disk ones. */
const useBuffers = (files: string) => `
  const made = [];
  const [tiered, mmap] = ${files};
  const opts = { capacity: 256, obsShape: [8], actionDtype: 'int32', seed: 3 };
  made.push(new rk.ReplayBuffer(opts));
  made.push(new rk.PrioritizedReplayBuffer({ ...opts, alpha: 0.7 }));
  if (tiered) made.push(new rk.ReplayBuffer({ ...opts, storage: { type: 'tiered', hotCapacity: 16, path: tiered } }));
  if (mmap) made.push(new rk.PrioritizedReplayBuffer({ ...opts, storage: { type: 'mmap', path: mmap } }));
  const n = 300;
  for (const b of made) {
    b.pushBatch({ obs: new Float32Array(n * 8).fill(1), action: new Int32Array(n), reward: new Float32Array(n),
      nextObs: new Float32Array(n * 8), terminated: new Uint8Array(n), truncated: new Uint8Array(n) });
    const s = b.sample(32);
    if (s.obs.length !== 256 || s.obs[0] !== 1) throw new Error('bad sample');
    if (s.weights) b.updatePriorities(s.indices, new Float64Array(32).fill(0.5));
  }
`;

describe('worker threads', () => {
  test('a worker loads the addon, uses every storage, and exits cleanly while the main thread keeps using its own buffers', () => {
    const d = freshDir();
    const files = JSON.stringify([path.join(d, 'w-tiered.rkb'), path.join(d, 'w-mmap.rkb')]);
    const r = child(`
      ${useBuffers(JSON.stringify([path.join(d, 'm-tiered.rkb'), null]))}
      const mine = made;
      runWorker(\`${useBuffers(files)}
        parentPort.postMessage(made.map((b) => b.length).join(','));
        for (const b of made) b.close();\`).then(({ code, messages }) => {
        for (const b of mine) b.sample(8);  // the main thread's buffers are untouched
        console.log(code, messages.join(' '), mine.map((b) => b.length).join(','));
        for (const b of mine) b.close();
      });
    `);
    expectClean(r);
    expect(r.stdout.trim()).toBe('0 256,256,256,256 256,256,256');
    expect(fs.readdirSync(d)).toEqual([]);
  });

  test('many workers, at once and one after another, each load and unload the addon', () => {
    const r = child(`
      (async () => {
        const code = \`${useBuffers('[null, null]')} parentPort.postMessage(made.length);\`;
        const results = [];
        for (let round = 0; round < 3; round++) {
          results.push(...await Promise.all(Array.from({ length: 6 }, () => runWorker(code))));
        }
        for (let i = 0; i < 6; i++) results.push(await runWorker(code));
        console.log(results.length, results.every((r) => r.code === 0 && r.messages.join() === '2'));
      })();
    `);
    expectClean(r);
    expect(r.stdout.trim()).toBe('24 true');
  });

  test('a worker that requires the package twice and uses both copies exits cleanly', () => {
    const r = child(`
      runWorker(\`
        const again = require(${JSON.stringify(entry)});
        delete require.cache[${JSON.stringify(entry)}];
        const a = new rk.ReplayBuffer({ capacity: 4, obsShape: [1], seed: 1 });
        const b = new again.ReplayBuffer({ capacity: 4, obsShape: [1], seed: 1 });
        parentPort.postMessage(String(again === rk));
      \`).then(({ code, messages }) => console.log(code, messages.join()));
    `);
    expectClean(r);
    expect(r.stdout.trim()).toBe('0 true');
  });

  test.each([
    ['returns', "parentPort.postMessage('ready');"],
    ['calls process.exit()', "parentPort.postMessage('ready'); process.exit(3);"],
    ['throws', "parentPort.postMessage('ready'); throw new Error('boom');"],
    ['is terminated mid-loop', "parentPort.postMessage('ready'); for (;;) made[0].sample(16);"],
    ['is terminated while saving', "parentPort.postMessage('ready'); made[2].save(path.join(workerData.dir, 'ckpt.rkb'), { chunkBytes: 4096 }); for (;;) made[0].sample(16);"],
  ])('buffers left open in a worker that %s: its files are deleted and the process goes on', (name, ending) => {
    const d = freshDir();
    const tiered = path.join(d, 'tiered.rkb');
    const mmap = path.join(d, 'mmap.rkb');
    const r = child(`
      runWorker(\`const path = require('node:path'); ${useBuffers(JSON.stringify([tiered, mmap]))}
        if (!require('node:fs').existsSync(${JSON.stringify(tiered)}) || !require('node:fs').existsSync(${JSON.stringify(mmap)})) throw new Error('no files');
        ${ending}\`, { workerData: { dir: ${JSON.stringify(d)} }, terminateOn: ${name.startsWith('is terminated') ? "'ready'" : 'undefined'} })
        .then(({ code, messages }) => {
          const left = fs.readdirSync(${JSON.stringify(d)}).filter((f) => !/^\\.ckpt\\.rkb\\.tmp-/.test(f) && f !== 'ckpt.rkb');
          // the same paths are free again for buffers of the main thread
          const again = new rk.ReplayBuffer({ capacity: 8, obsShape: [1], seed: 1, storage: { type: 'mmap', path: ${JSON.stringify(tiered)} } });
          again.close();
          // The worker's 'error' event and its earlier message arrive on different channels, in
          // either order: the first message is looked for among the messages, not at their front.
          console.log(code, messages.find((m) => !String(m).startsWith('error: ')), JSON.stringify(left), messages.includes('error: boom'));
        });
    `);
    expectClean(r);
    const expected = { returns: 0, 'calls process.exit()': 3, throws: 1, 'is terminated mid-loop': 1, 'is terminated while saving': 1 }[name];
    const [code, first, left, threw] = r.stdout.trim().split(' ');
    expect([Number(code), first, left, threw]).toEqual([expected, 'ready', '[]', String(name === 'throws')]);
    expect(fs.existsSync(tiered) || fs.existsSync(mmap)).toBe(false);
  });
});

describe('garbage collection', () => {
  test('the memory of buffers collected without close() is given back', () => {
    // 70 buffers of about 20 MB each, filled, dropped unclosed. Leaked, they would hold 1.4 GB.
    // RSS plateaus instead (glibc keeps some freed heap for reuse, so it is compared after a
    // warm-up), and the external memory the addon reports returns to where it was.
    const r = child(
      `
      const mb = () => Math.round(process.memoryUsage().rss / 2 ** 20);
      const extMb = () => Math.round(process.memoryUsage().external / 2 ** 20);
      const cycle = (i) => {
        const Ctor = i % 2 ? rk.PrioritizedReplayBuffer : rk.ReplayBuffer;
        const b = new Ctor({ capacity: 20000, obsShape: [128], seed: 1 });
        const n = 20000;
        b.pushBatch({ obs: new Float32Array(n * 128).fill(1), action: new Float32Array(n), reward: new Float32Array(n),
          nextObs: new Float32Array(n * 128).fill(2), terminated: new Uint8Array(n), truncated: new Uint8Array(n) });
        b.sample(64);
      };
      const settle = () => new Promise((r) => setTimeout(r, 20)).then(() => { global.gc(); global.gc(); });
      const cycles = async (n) => { for (let i = 0; i < n; i++) { cycle(i); if (i % 4 === 3) await settle(); } await settle(); await settle(); };
      (async () => {
        const ext0 = extMb();
        await cycles(10);
        const warm = mb();
        let peakExt = 0;
        for (let i = 0; i < 60; i++) { cycle(i); peakExt = Math.max(peakExt, extMb()); if (i % 4 === 3) await settle(); }
        await settle(); await settle();
        console.log(JSON.stringify({ warm, end: mb(), ext0, peakExt, endExt: extMb() }));
      })();
    `,
      ['--expose-gc'],
    );
    expectClean(r);
    const m = JSON.parse(r.stdout) as { warm: number; end: number; ext0: number; peakExt: number; endExt: number };
    expect(m.peakExt - m.ext0).toBeGreaterThan(20); // the addon does report its buffers' memory
    expect(m.endExt - m.ext0).toBeLessThan(5);
    expect(m.end - m.warm).toBeLessThan(400);
  });

  test('collected disk buffers delete their files and close their descriptors, cycle after cycle', () => {
    const d = freshDir();
    const r = child(
      `
      const fds = () => fs.readdirSync('/proc/self/fd').length;
      const settle = () => new Promise((r) => setTimeout(r, 20)).then(() => { global.gc(); global.gc(); });
      (async () => {
        await settle();
        const before = fds();
        let most = 0;
        for (let i = 0; i < 30; i++) {
          (() => {
            const storage = i % 2 ? { type: 'mmap', path: path.join(${JSON.stringify(d)}, 'm' + i + '.rkb') }
                                  : { type: 'tiered', hotCapacity: 8, path: path.join(${JSON.stringify(d)}, 't' + i + '.rkb') };
            const b = new rk.PrioritizedReplayBuffer({ capacity: 64, obsShape: [16], seed: i, storage });
            b.pushBatch({ obs: new Float32Array(100 * 16), action: new Float32Array(100), reward: new Float32Array(100),
              nextObs: new Float32Array(100 * 16), terminated: new Uint8Array(100), truncated: new Uint8Array(100) });
          })();
          most = Math.max(most, fs.readdirSync(${JSON.stringify(d)}).length);
          if (i % 5 === 4) await settle();
        }
        await settle();
        console.log(most > 0, fs.readdirSync(${JSON.stringify(d)}).length, fds() - before);
      })();
    `,
      ['--expose-gc'],
    );
    expectClean(r);
    expect(r.stdout.trim()).toBe('true 0 0');
  });
});

describe('process exit at every stage is clean', () => {
  const d = () => JSON.stringify(freshDir());
  const stages: [string, (dir: string) => string, number][] = [
    ['right after loading, no buffer made', () => '', 0],
    ['after every buffer was closed', (dir) => `${useBuffers(`[path.join(${dir}, 't.rkb'), path.join(${dir}, 'm.rkb')]`)} for (const b of made) b.close(); for (const b of made) b.close();`, 0],
    ['with buffers open and an epoch under way', (dir) => `${useBuffers(`[path.join(${dir}, 't.rkb'), path.join(${dir}, 'm.rkb')]`)} const it = made[2].epochs({ batchSize: 10 }); it.next(); globalThis.keep = { made, it };`, 0],
    ['with an archive mapped and views of it alive', (dir) => `${useBuffers('[null, null]')} made[1].saveSync(path.join(${dir}, 'a.rkb')); const a = rk.openArchive(path.join(${dir}, 'a.rkb')); globalThis.keep = [a, a.field('obs')]; fs.rmSync(path.join(${dir}, 'a.rkb'));`, 0],
    ['by process.exit() in the middle of an async save', (dir) => `${useBuffers(`[path.join(${dir}, 't.rkb'), null]`)} made[2].save(path.join(${dir}, 'ckpt.rkb'), { chunkBytes: 4096, onProgress: () => process.exit(5) });`, 5],
    ['by process.exit() in the middle of a sync save', (dir) => `${useBuffers(`[null, path.join(${dir}, 'm.rkb')]`)} made[2].saveSync(path.join(${dir}, 'ckpt.rkb'), { chunkBytes: 4096, onProgress: () => process.exit(6) });`, 6],
    ['by process.exit() while a save is pending, then a sync call', (dir) => `${useBuffers(`[null, path.join(${dir}, 'm.rkb')]`)} made[2].save(path.join(${dir}, 'ckpt.rkb')).catch(() => {}); made[0].sample(4); process.exit(0);`, 0],
    ['from a beforeExit handler with buffers open', (dir) => `${useBuffers(`[path.join(${dir}, 't.rkb'), path.join(${dir}, 'm.rkb')]`)} process.once('beforeExit', () => { made[3].sample(4); process.exit(0); });`, 0],
    ['by process.exit() while workers still run with open buffers', (dir) => `
      ${useBuffers(`[path.join(${dir}, 'main.rkb'), null]`)}
      let ready = 0;
      for (let i = 0; i < 3; i++) {
        const w = new Worker('const rk = require(' + JSON.stringify(${JSON.stringify(entry)}) + '); const { parentPort } = require("node:worker_threads");' +
          'const b = new rk.ReplayBuffer({ capacity: 64, obsShape: [4], seed: 1, storage: { type: "mmap", path: ' + JSON.stringify(path.join(${dir}, 'w' + i + '.rkb')) + ' } });' +
          'parentPort.postMessage("ready"); for (;;) b.length;', { eval: true });
        w.on('message', () => { if (++ready === 3) process.exit(0); });
      }`, 0],
  ];
  test.each(stages)('%s', (_name, body, status) => {
    const where = d();
    const r = child(body(where));
    expectClean(r, status);
    // Nothing left but what was meant to stay: a finished checkpoint may exist, storage files
    // may not. (A save's temporary file is the case below.)
    const left = fs.readdirSync(JSON.parse(where) as string).filter((f) => f !== 'ckpt.rkb' && !isSaveTemporary(f));
    expect(left).toEqual([]);
  });

  test('process.exit() during a save leaves no temporary file', () => {
    const where = freshDir();
    const r = child(`${useBuffers('[null, null]')} made[0].save(path.join(${JSON.stringify(where)}, 'ckpt.rkb'), { chunkBytes: 4096, onProgress: () => process.exit(0) });`);
    expectClean(r);
    expect(fs.readdirSync(where)).toEqual([]);
  });
});
