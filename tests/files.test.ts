// The file contracts of storage files and archives (issue #12, items 2, 4, 8, 9, 10):
// which files replaykit creates, takes over, deletes and refuses; no descriptor held per
// buffer; a file truncated from outside gives an error, never a dead process. The cases
// that could kill or hang the process run in a child process with a time limit.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ReplayBuffer, StorageError } from 'replaykit';
import type { StorageOptions } from 'replaykit';
import { columns } from './helpers';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'replaykit-files-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let counter = 0;
const fresh = (name = 'f') => path.join(dir, `${name}-${counter++}`);

type Kind = 'mmap' | 'tiered';
const storageAt = (kind: Kind, p: string): StorageOptions =>
  kind === 'mmap' ? { type: 'mmap', path: p } : { type: 'tiered', hotCapacity: 4, path: p };
const bufferAt = (kind: Kind, p: string, capacity = 64) =>
  new ReplayBuffer({ capacity, obsShape: [4], actionShape: [], actionDtype: 'int32', seed: 1, storage: storageAt(kind, p) });

/** Everything that tells one state of a path from another, bytes included. */
function snapshot(p: string) {
  const st = fs.lstatSync(p, { bigint: true });
  return {
    mode: st.mode,
    ino: st.ino,
    size: st.size,
    nlink: st.nlink,
    mtime: st.mtimeNs,
    bytes: st.isFile() ? fs.readFileSync(p).toString('hex') : null,
    link: st.isSymbolicLink() ? fs.readlinkSync(p) : null,
  };
}

const entry = path.join(__dirname, '..', 'dist', 'lib', 'index.js');
/** Runs `script` in a fresh node process (rk = the built package) with a time limit; returns its outcome. */
function child(script: string, { timeout = 30_000, shellPrefix = '' } = {}) {
  if (!fs.existsSync(entry)) throw new Error('run `npm run build:ts` first: child-process tests load dist/');
  const code = `const rk = require(${JSON.stringify(entry)});\nconst fs = require('fs');\nconst cp = require('child_process');\n${script}`;
  const r = shellPrefix
    ? spawnSync('sh', ['-c', `${shellPrefix} && exec "${process.execPath}" -e "$0"`, code], { encoding: 'utf8', timeout })
    : spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout });
  return { stdout: r.stdout.trim(), stderr: r.stderr, status: r.status, signal: r.signal };
}

describe.each<Kind>(['mmap', 'tiered'])('%s storage: storage.path only ever creates a new file', (kind) => {
  test('an existing file, symlink, dangling symlink, directory or FIFO is a StorageError and stays exactly as it was', () => {
    const regular = fresh('user-file');
    fs.writeFileSync(regular, 'precious data that is not a replaykit storage file\n');
    const big = fresh('big');
    fs.writeFileSync(big, Buffer.alloc(200_000, 7));
    const empty = fresh('empty');
    fs.writeFileSync(empty, '');
    const link = fresh('link');
    fs.symlinkSync(regular, link);
    const dangling = fresh('dangling');
    const nowhere = fresh('nowhere');
    fs.symlinkSync(nowhere, dangling);
    const sub = fresh('dir');
    fs.mkdirSync(sub);
    fs.writeFileSync(path.join(sub, 'inside'), 'x');
    const fifo = fresh('fifo');
    execFileSync('mkfifo', [fifo]);
    const paths = [regular, big, empty, link, dangling, sub, fifo];
    const before = paths.map(snapshot);
    const targetBefore = snapshot(regular);
    for (const p of paths) expect(() => bufferAt(kind, p)).toThrow(StorageError);
    expect(paths.map(snapshot)).toEqual(before);
    expect(snapshot(regular)).toEqual(targetBefore);
    expect(fs.existsSync(nowhere)).toBe(false);
    expect(fs.readFileSync(path.join(sub, 'inside'), 'utf8')).toBe('x');
    expect(() => bufferAt(kind, link)).toThrow(/symbolic link/);
    expect(() => bufferAt(kind, regular)).toThrow(/not a replaykit storage file/);
  });

  test('close() deletes the file only if the path still names the file the buffer opened', () => {
    const p = fresh('store');
    const first = bufferAt(kind, p);
    fs.unlinkSync(p); // someone deletes it; a second buffer makes a new file there
    const second = bufferAt(kind, p);
    second.pushBatch(columns(0, 10));
    first.close();
    expect(fs.existsSync(p)).toBe(true);
    expect(second.sampleAll().indices).toHaveLength(10);
    second.close();
    expect(fs.existsSync(p)).toBe(false);
    // Moved away and replaced by a user's file: the user's file stays.
    const third = bufferAt(kind, p);
    fs.renameSync(p, `${p}.moved`);
    fs.writeFileSync(p, 'mine');
    third.close();
    expect(fs.readFileSync(p, 'utf8')).toBe('mine');
  });

  test("a live process's storage file is refused; once that process is killed, its file is taken over", async () => {
    const p = fresh('store');
    const holder = spawn(
      process.execPath,
      ['-e', `const rk = require(${JSON.stringify(entry)}); globalThis.b = new rk.ReplayBuffer({ capacity: 64, obsShape: [4], actionShape: [], actionDtype: 'int32', seed: 1, storage: ${JSON.stringify(storageAt(kind, p))} }); console.log('ready'); setInterval(() => {}, 1000);`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
        holder.on('exit', () => reject(new Error('the holder exited early')));
      });
      const alive = snapshot(p);
      expect(() => bufferAt(kind, p)).toThrow(StorageError);
      expect(() => bufferAt(kind, p)).toThrow(`in use by another buffer (process ${holder.pid})`);
      expect(snapshot(p)).toEqual(alive);
    } finally {
      const exited = new Promise((resolve) => holder.on('exit', resolve));
      holder.kill('SIGKILL');
      await exited;
    }
    expect(fs.existsSync(p)).toBe(true); // kill -9 left it behind
    const b = bufferAt(kind, p);
    b.pushBatch(columns(0, 50));
    expect(b.sampleAll().indices).toHaveLength(50);
    b.close();
    expect(fs.existsSync(p)).toBe(false);
  });

  test('unclosed buffers hold no file descriptor: 600 of them under a limit of 128 descriptors', () => {
    const sub = fresh('many');
    fs.mkdirSync(sub);
    const r = child(
      `const before = fs.readdirSync('/proc/self/fd').length;
       globalThis.keep = [];
       const storage = (i) => (${JSON.stringify(kind)} === 'mmap' ? { type: 'mmap', path: ${JSON.stringify(sub)} + '/' + i } : { type: 'tiered', hotCapacity: 2, path: ${JSON.stringify(sub)} + '/' + i });
       for (let i = 0; i < 600; i++) keep.push(new rk.ReplayBuffer({ capacity: 8, obsShape: [2], seed: 1, storage: storage(i) }));
       const fd = fs.openSync('/dev/null', 'r');
       fs.closeSync(fd);
       console.log(fs.readdirSync('/proc/self/fd').length - before, fs.readdirSync(${JSON.stringify(sub)}).length);`,
      { shellPrefix: 'ulimit -n 128' },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('0 600');
    expect(fs.readdirSync(sub)).toEqual([]); // deleted at exit
  });
});

describe.each<Kind>(['mmap', 'tiered'])('%s storage: a file truncated from outside', (kind) => {
  test('sample, push and saveSync then throw StorageError, and the process lives', () => {
    const p = fresh('store');
    const r = child(
      `const b = new rk.ReplayBuffer({ capacity: 64, obsShape: [4], actionShape: [], actionDtype: 'int32', seed: 1, storage: ${JSON.stringify(storageAt(kind, p))} });
       const cols = (n) => ({ obs: new Float32Array(4 * n).fill(1), action: new Int32Array(n), reward: new Float32Array(n), nextObs: new Float32Array(4 * n), terminated: new Uint8Array(n), truncated: new Uint8Array(n) });
       b.pushBatch(cols(50));
       console.log(b.sample(40).obs.length);
       cp.execFileSync('truncate', ['-s', '0', ${JSON.stringify(p)}]); // what 'cp new.rkb ckpt.rkb' does first
       const outcome = (fn) => { try { fn(); return 'ok'; } catch (e) { return e.name + (e instanceof rk.StorageError && /truncated or damaged by another process/.test(e.message) ? '+message' : ''); } };
       console.log(outcome(() => b.sample(40)));
       console.log(outcome(() => b.pushBatch(cols(3))));
       console.log(outcome(() => b.saveSync(${JSON.stringify(`${p}.rkb`)})));
       console.log(outcome(() => b.sample(1)));
       b.close();
       console.log('alive', fs.existsSync(${JSON.stringify(p)}), fs.existsSync(${JSON.stringify(`${p}.rkb`)}));`,
    );
    expect(r.signal).toBeNull();
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual(['160', 'StorageError+message', 'StorageError+message', 'StorageError+message', 'StorageError+message', 'alive false false']);
    expect(r.status).toBe(0);
  });
});

// Archives are mapped through the core's MappedFile::open_readonly (regular files only, fault guard).
describe('archives: not a regular file, or truncated from outside', () => {
  test('openArchive and loadSync on a FIFO throw ArchiveError at once instead of hanging', () => {
    const fifo = fresh('fifo');
    execFileSync('mkfifo', [fifo]);
    const r = child(
      `const outcome = (fn) => { try { fn(); return 'ok'; } catch (e) { return e.name; } };
       console.log(outcome(() => rk.openArchive(${JSON.stringify(fifo)})), outcome(() => rk.ReplayBuffer.loadSync(${JSON.stringify(fifo)})));`,
      { timeout: 3000 },
    );
    expect(r.stdout).toBe('ArchiveError ArchiveError');
    expect(r.status).toBe(0);
  });

  test('field views of an archive truncated under them read zeros; field() and verify() then throw ArchiveError', () => {
    const p = fresh('archive');
    const r = child(
      `const b = new rk.ReplayBuffer({ capacity: 20000, obsShape: [16], actionShape: [], actionDtype: 'int32', seed: 1 });
       const n = 20000;
       b.pushBatch({ obs: new Float32Array(16 * n).fill(3), action: new Int32Array(n), reward: new Float32Array(n), nextObs: new Float32Array(16 * n), terminated: new Uint8Array(n), truncated: new Uint8Array(n) });
       b.saveSync(${JSON.stringify(p)});
       const a = rk.openArchive(${JSON.stringify(p)});
       const obs = a.field('obs');
       console.log(obs[obs.length - 1]);
       cp.execFileSync('truncate', ['-s', '4096', ${JSON.stringify(p)}]);
       console.log(obs[obs.length - 1]);
       const outcome = (fn) => { try { fn(); return 'ok'; } catch (e) { return e.name; } };
       console.log(outcome(() => a.field('obs')), outcome(() => a.verify()));
       a.close();
       console.log('alive');`,
    );
    expect(r.signal).toBeNull();
    expect(r.stdout.split('\n')).toEqual(['3', '0', 'ArchiveError ArchiveError', 'alive']);
  });
});

test('a storage buffer in the process does not change what an unrelated SIGBUS does', () => {
  // The fault guard passes faults outside its mappings on: a SIGBUS sent to the process
  // still ends it by SIGBUS.
  const r = child(
    `globalThis.b = new rk.ReplayBuffer({ capacity: 8, obsShape: [2], seed: 1, storage: { type: 'mmap', path: ${JSON.stringify(fresh('store'))} } });
     process.kill(process.pid, 'SIGBUS');
     setTimeout(() => console.log('survived'), 2000);`,
    { timeout: 10_000 },
  );
  expect(r.stdout).toBe('');
  expect(r.signal).toBe('SIGBUS');
});
