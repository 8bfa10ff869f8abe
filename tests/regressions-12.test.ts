/**
 * Regression tests of issue #12 ("Nothing lost, nothing crashes"), one per item, named by its
 * number, through the public API only. Each fails on the code the issue was filed against and
 * passes once the item is fixed; every refusal is also checked to lose nothing (length,
 * contents, generator state, files byte for byte).
 *
 * The "native items" block holds public-API checks of the items whose fixes live in the
 * native core and the storage files (their own C++ tests are elsewhere); the cases that could
 * hang or kill the process on a broken build run in a child process against dist/.
 */
import { spawn, spawnSync } from 'node:child_process';
import { MessageChannel } from 'node:worker_threads';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  ArchiveError,
  openArchive,
  OutOfRangeError,
  PrioritizedReplayBuffer,
  ReplayBuffer,
  ReplayError,
  ShapeError,
  StateError,
  StorageError,
} from 'replaykit';
import type { StorageOptions } from 'replaykit';
import { checkRow, columns, transition } from './helpers';
import { child, describeError, errorOf, lastReport, plain, saveTemporaries, settledError, snapshot, tempDir } from './misuse-helpers';

// Hostile options do not type-check, on purpose: these aliases take anything.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const AnyRB = ReplayBuffer as any;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const AnyPER = PrioritizedReplayBuffer as any;

const tmp = tempDir('replaykit-issue12-');
afterAll(() => tmp.cleanup());
const fresh = tmp.fresh;
/** A fresh empty directory. */
const freshDir = () => {
  const d = fresh('dir');
  fs.mkdirSync(d);
  return d;
};

const standardOptions = { capacity: 16, obsShape: [4], actionShape: [], actionDtype: 'int32' as const, seed: 1 };
const standard = (storage?: StorageOptions) => new ReplayBuffer({ ...standardOptions, storage });
const prioritized = (storage?: StorageOptions) => new PrioritizedReplayBuffer({ ...standardOptions, alpha: 0.7, storage });
const diskKinds: [string, (p: string) => StorageOptions][] = [
  ['mmap', (p) => ({ type: 'mmap', path: p })],
  ['tiered', (p) => ({ type: 'tiered', hotCapacity: 4, path: p })],
];

/** Expects `fn` to throw an instance of `cls` whose message matches every pattern; returns the error. */
function expectThrow(fn: () => unknown, cls: abstract new (...a: never[]) => Error, ...patterns: RegExp[]): Error {
  const e = errorOf(fn);
  if (!(e instanceof cls)) throw new Error(`expected ${cls.name}, got ${describeError(e)}`);
  for (const p of patterns) expect(e.message).toMatch(p);
  return e;
}

/** Expects the sync or async call to fail with `cls` matching the patterns. */
async function expectReject(fn: () => unknown, cls: abstract new (...a: never[]) => Error, ...patterns: RegExp[]): Promise<Error> {
  const e = await settledError(fn);
  if (!(e instanceof cls)) throw new Error(`expected ${cls.name}, got ${describeError(e)}`);
  for (const p of patterns) expect(e.message).toMatch(p);
  return e;
}

// ---------------------------------------------------------------------------------------------

describe('#12.3 saving onto the buffer\'s own storage file', () => {
  describe.each(diskKinds)('%s storage', (_name, storageAt) => {
    /** A buffer on a fresh storage file with 10 items, the file's identity and bytes. */
    const setUp = () => {
      const file = fresh('store.rkb');
      const rb = standard(storageAt(file));
      rb.pushBatch(columns(0, 10));
      const st = fs.statSync(file);
      return { rb, file, ino: st.ino, dev: st.dev, bytes: fs.readFileSync(file), before: snapshot(rb) };
    };
    const expectIntact = (s: ReturnType<typeof setUp>) => {
      const st = fs.statSync(s.file);
      expect([st.dev, st.ino]).toEqual([s.dev, s.ino]);
      expect(fs.readFileSync(s.file).equals(s.bytes)).toBe(true);
      expect(snapshot(s.rb)).toEqual(s.before);
    };

    test('#12.3 saveSync onto the storage path is refused with a ReplayError; the storage file and buffer are intact', () => {
      const s = setUp();
      expectThrow(() => s.rb.saveSync(s.file), ReplayError);
      expectIntact(s);
      expect(saveTemporaries(path.dirname(s.file))).toEqual([]);
      s.rb.close();
    });

    test('#12.3 save (async) onto the storage path is refused with a ReplayError; the storage file is intact', async () => {
      const s = setUp();
      await expectReject(() => s.rb.save(s.file), ReplayError);
      expectIntact(s);
      s.rb.close();
    });

    test('#12.3 the same file under another name is refused too: a hard link, a symlinked directory, ./ and ../ spellings', () => {
      const s = setUp();
      const dir = path.dirname(s.file);
      const link = fresh('hardlink.rkb');
      fs.linkSync(s.file, link);
      const dirLink = fresh('dirlink');
      fs.symlinkSync(dir, dirLink);
      const spellings = [link, path.join(dirLink, path.basename(s.file)), `${dir}/./${path.basename(s.file)}`, `${dir}/../${path.basename(dir)}/${path.basename(s.file)}`];
      for (const p of spellings) {
        const e = errorOf(() => s.rb.saveSync(p));
        expect([p, e instanceof ReplayError]).toEqual([p, true]);
        expectIntact(s);
      }
      expect(fs.statSync(link).ino).toBe(s.ino);
      s.rb.close();
      fs.rmSync(link);
    });
  });

  // In a child: today the archive's mapping is truncated under it by the new storage file.
  test.each(diskKinds)('#12.3 load/loadSync of an archive with %s storage at the archive\'s own path (or a hard link to it) is refused; the archive is intact and still loads', (name) => {
    const d = freshDir();
    const r = child(`
      const archive = path.join(${JSON.stringify(d)}, 'ckpt.rkb');
      const rb = new rk.ReplayBuffer({ capacity: 16, obsShape: [4], actionDtype: 'int32', seed: 1 });
      for (let i = 0; i < 10; i++) rb.push({ obs: [i, i, i, i], action: i, reward: i, nextObs: [i, i, i, i], terminated: false, truncated: false });
      rb.saveSync(archive);
      const bytes = fs.readFileSync(archive);
      const link = path.join(${JSON.stringify(d)}, 'link.rkb');
      fs.linkSync(archive, link);
      const storage = (p) => ${JSON.stringify(name)} === 'mmap' ? { type: 'mmap', path: p } : { type: 'tiered', hotCapacity: 4, path: p };
      const out = [];
      (async () => {
        for (const p of [archive, link]) {
          for (const how of ['loadSync', 'load']) {
            let e;
            try { const b = await rk.ReplayBuffer[how](archive, { storage: storage(p) }); b.close(); } catch (err) { e = err; }
            const intact = fs.existsSync(archive) && fs.readFileSync(archive).equals(bytes);
            out.push({ p: path.basename(p), how, error: errName(e), intact });
            if (!intact) { fs.writeFileSync(archive, bytes); }
          }
        }
        const again = rk.ReplayBuffer.loadSync(archive);
        report({ out, lengthAfter: again.length });
      })();
    `);
    expect({ signal: r.signal, timedOut: r.timedOut }).toEqual({ signal: null, timedOut: false });
    const rep = lastReport(r) as { out: { p: string; how: string; error: string | null; intact: boolean }[]; lengthAfter: number };
    for (const o of rep.out) expect({ ...o, error: o.error?.startsWith('ReplayError:') ?? false }).toEqual({ ...o, error: true, intact: true });
    expect(rep.lengthAfter).toBe(10);
  });
});

// ---------------------------------------------------------------------------------------------

describe('#12.5 temporaries of killed saves', () => {
  /** The pid of a process that has exited. */
  const deadPid = () => {
    const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const pid = Number(r.stdout);
    expect(Number.isInteger(pid) && pid > 0).toBe(true);
    return pid;
  };
  /** A temporary as a killed save of `target` by `pid` leaves it: sections written, the header still zero. */
  const leftover = (target: string, pid: number) => {
    const t = path.join(path.dirname(target), `.${path.basename(target)}.tmp-${pid}-deadbeef`);
    const bytes = Buffer.alloc(8192);
    bytes.fill(7, 4096);
    fs.writeFileSync(t, bytes);
    return t;
  };

  test.each(['saveSync', 'save'] as const)('#12.5 %s removes a temporary of the same target whose writer process is gone', async (how) => {
    const target = path.join(freshDir(), 'ckpt.rkb');
    const t = leftover(target, deadPid());
    const rb = standard();
    rb.pushBatch(columns(0, 5));
    await rb[how](target);
    expect(fs.existsSync(t)).toBe(false);
    expect(saveTemporaries(path.dirname(target))).toEqual([]);
    expect(ReplayBuffer.loadSync(target).length).toBe(5);
    rb.close();
  });

  test('#12.5 a temporary whose writer process is alive is kept (a save in flight elsewhere)', async () => {
    const target = path.join(freshDir(), 'ckpt.rkb');
    const alive = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      const t = leftover(target, alive.pid as number);
      const bytes = fs.readFileSync(t);
      const rb = standard();
      rb.pushBatch(columns(0, 5));
      rb.saveSync(target);
      await rb.save(target);
      expect(fs.readFileSync(t).equals(bytes)).toBe(true);
      rb.close();
    } finally {
      alive.kill('SIGKILL');
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('#12.7 re-entrant calls on the same buffer are a StateError', () => {
  /** transition(id) whose `action` (the second field read) is a getter running `during` first. */
  const withGetter = (id: number, during: () => void) => {
    const t = transition(id) as Record<string, unknown>;
    const action = t.action;
    delete t.action;
    Object.defineProperty(t, 'action', { enumerable: true, get: () => (during(), action) });
    return t as unknown as ReturnType<typeof transition>;
  };

  test('#12.7 a saveSync started from inside a push getter is a StateError; nothing is written and nothing is pushed', () => {
    const rb = standard();
    rb.pushBatch(columns(0, 5));
    const before = snapshot(rb);
    const d = freshDir();
    const target = path.join(d, 'ckpt.rkb');
    expectThrow(() => rb.push(withGetter(100, () => rb.saveSync(target))), StateError);
    expect(fs.readdirSync(d)).toEqual([]);
    expect(snapshot(rb)).toEqual(before);
    rb.saveSync(target); // and the buffer still saves normally afterwards
    expect(ReplayBuffer.loadSync(target).sampleAll()).toEqual(rb.sampleAll());
    rb.close();
  });

  test('#12.7 a save (async) started from inside a push getter is refused with a StateError and writes no archive', async () => {
    const rb = standard();
    rb.pushBatch(columns(0, 5));
    const d = freshDir();
    const target = path.join(d, 'ckpt.rkb');
    let inner: unknown;
    const pushError = errorOf(() =>
      rb.push(
        withGetter(100, () => {
          inner = rb.save(target);
        }),
      ),
    );
    // The refusal may come as the push's own error (thrown by save at once) or as the save's rejection.
    const saveError = pushError ?? (await settledError(() => inner));
    expect(describeError(saveError)).toMatch(/^StateError/);
    expect(fs.existsSync(target)).toBe(false);
    expect(saveTemporaries(d)).toEqual([]);
    rb.close();
  });

  test('#12.7 a push from inside another push\'s getter is a StateError; the outer transition is stored whole, not mixed', () => {
    const rb = standard();
    rb.pushBatch(columns(0, 5));
    let inner: unknown;
    rb.push(
      withGetter(100, () => {
        inner = errorOf(() => rb.push(transition(200)));
      }),
    );
    expect(describeError(inner)).toMatch(/^StateError/);
    expect(rb.length).toBe(6);
    const last = rb.sampleByIndex([5]);
    expect(checkRow(last, 0)).toBe(100);
    rb.close();
  });

  test('#12.7 a pushBatch or clear from inside a push getter is a StateError and leaves the buffer as it was', () => {
    const rb = standard();
    rb.pushBatch(columns(0, 5));
    const before = snapshot(rb);
    for (const during of [() => rb.pushBatch(columns(50, 3)), () => rb.clear()]) {
      expectThrow(() => rb.push(withGetter(100, during)), StateError);
      expect(snapshot(rb)).toEqual(before);
    }
    rb.close();
  });

  test('#12.7 a sample from inside an `out` getter is a StateError; the outer batch is whole and the generator advanced once', () => {
    const rb = standard();
    const twin = standard(); // same seed, same items: what the outer sample alone gives
    rb.pushBatch(columns(0, 12));
    twin.pushBatch(columns(0, 12));
    const reward = new Float32Array(4);
    let inner: unknown;
    let calls = 0;
    const out: Record<string, unknown> = {};
    Object.defineProperty(out, 'reward', {
      enumerable: true,
      configurable: true,
      get: () => {
        if (calls++ === 0) inner = errorOf(() => rb.sample(4));
        return reward;
      },
    });
    const b = rb.sample(4, { out: out as never });
    expect(describeError(inner)).toMatch(/^StateError/);
    for (let i = 0; i < 4; i++) checkRow(b, i);
    expect(plain(b)).toEqual(plain(twin.sample(4)));
    expect(rb.getRngState()).toEqual(twin.getRngState());
    rb.close();
    twin.close();
  });
});

// ---------------------------------------------------------------------------------------------

describe('#12.13 an all-zero generator state', () => {
  test('#12.13 setRngState([0, 0, 0, 0]) is an OutOfRangeError and the generator keeps its state', () => {
    const rb = standard();
    const twin = standard();
    rb.pushBatch(columns(0, 12));
    twin.pushBatch(columns(0, 12));
    const before = snapshot(rb);
    expectThrow(() => rb.setRngState([0, 0, 0, 0]), OutOfRangeError);
    expect(snapshot(rb)).toEqual(before);
    expect(rb.sample(8)).toEqual(twin.sample(8));
    rb.close();
    twin.close();
  });
});

// ---------------------------------------------------------------------------------------------

describe('#12.14 field names that reach the prototype chain', () => {
  const spec = { shape: [], dtype: 'float32' };
  test.each(['__proto__', 'constructor', 'prototype'])('#12.14 a field named %s is refused with a ShapeError naming it (fields and extraFields)', (name) => {
    // JSON.parse makes an own key even of '__proto__', as a schema read from a file would.
    const fields = JSON.parse(`{ ${JSON.stringify(name)}: ${JSON.stringify(spec)}, "x": ${JSON.stringify(spec)} }`);
    expect(Object.keys(fields)).toContain(name);
    const quoted = new RegExp(`'${name}'`);
    expectThrow(() => new AnyRB({ capacity: 4, seed: 1, fields }), ShapeError, quoted);
    expectThrow(() => new AnyRB({ capacity: 4, seed: 1, obsShape: [2], extraFields: JSON.parse(`{ ${JSON.stringify(name)}: ${JSON.stringify(spec)} }`) }), ShapeError, quoted);
    expectThrow(() => new AnyPER({ capacity: 4, seed: 1, fields }), ShapeError, quoted);
  });
});

// ---------------------------------------------------------------------------------------------

describe('#12.15 load options that disagree with the archive', () => {
  // The archive: prioritized, capacity 16, obs [3] float32, action float32 scalar, seed 7, every PER option set.
  const archived = {
    capacity: 16,
    obsShape: [3],
    seed: 7,
    alpha: 0.7,
    betaStart: 0.5,
    betaEnd: 0.9,
    betaFrames: 1000,
    epsilon: 0.001,
    eviction: 'lowest-priority' as const,
  };
  let file: string;
  let bytes: Buffer;
  let expected: unknown;
  beforeAll(() => {
    const per = new PrioritizedReplayBuffer(archived);
    const c = columns(0, 10, 3);
    per.pushBatch({ ...c, action: Float32Array.from(c.action) });
    per.sample(4);
    file = fresh('per.rkb');
    per.saveSync(file);
    bytes = fs.readFileSync(file);
    expected = snapshot(per);
    per.close();
  });
  // Each disagreeing option, and what the error must name: the option (or, for the shorthand
  // schema options, the field they make).
  const disagreements: [string, Record<string, unknown>, RegExp][] = [
    ['capacity', { capacity: 5 }, /\bcapacity\b/],
    ['obsShape', { obsShape: [7] }, /\bobsShape\b|'obs'/],
    ['obsDtype', { obsShape: [3], obsDtype: 'float64' }, /\bobsDtype\b|'obs'/],
    ['actionDtype', { obsShape: [3], actionDtype: 'int32' }, /\bactionDtype\b|'action'/],
    ['fields', { fields: { obs: { shape: [3], dtype: 'float32' } } }, /\bfields\b|schema/],
    ['seed', { seed: 1 }, /\bseed\b/],
    ['alpha', { alpha: 0.6 }, /\balpha\b/],
    ['betaStart', { betaStart: 0.4 }, /\bbetaStart\b/],
    ['betaEnd', { betaEnd: 1 }, /\bbetaEnd\b/],
    ['betaFrames', { betaFrames: 5 }, /\bbetaFrames\b/],
    ['epsilon', { epsilon: 0.1 }, /\bepsilon\b/],
    ['eviction', { eviction: 'fifo' }, /\beviction\b/],
  ];
  test.each(disagreements)('#12.15 %s that disagrees is refused by loadSync and load with an error naming it; the archive is intact', async (_name, options, named) => {
    expectThrow(() => AnyPER.loadSync(file, options), ReplayError, named);
    expectThrow(() => AnyRB.loadSync(file, options), ReplayError, named);
    await expectReject(() => AnyPER.load(file, options), ReplayError, named);
    await expectReject(() => AnyPER.load(file, { ...options, ifMissing: 'empty' }), ReplayError, named);
    expect(fs.readFileSync(file).equals(bytes)).toBe(true);
  });
  test('#12.15 options that agree (a job\'s second run with the options that made the buffer) load it; storage is the documented override', async () => {
    const same = await PrioritizedReplayBuffer.load(file, { ...archived, ifMissing: 'empty' });
    expect(snapshot(same)).toEqual(expected);
    same.close();
    const elsewhere = fresh('cold.rkb');
    const tiered = PrioritizedReplayBuffer.loadSync(file, { storage: { type: 'tiered', hotCapacity: 4, path: elsewhere } });
    expect(tiered.storage).toEqual({ type: 'tiered', hotCapacity: 4, path: elsewhere });
    expect(snapshot(tiered)).toEqual(expected);
    tiered.close();
  });
});

// ---------------------------------------------------------------------------------------------

describe('#12.16 unknown and misspelt option keys', () => {
  const optionError = [OutOfRangeError, ShapeError] as const;
  const expectOptionError = (fn: () => unknown, ...patterns: RegExp[]) => {
    const e = errorOf(fn);
    expect(describeError(e)).toMatch(/^(OutOfRangeError|ShapeError)/);
    expect(optionError.some((c) => e instanceof c)).toBe(true);
    for (const p of patterns) expect((e as Error).message).toMatch(p);
  };
  test.each([
    ['sed', 'seed', AnyRB, { sed: 5 }],
    ['alhpa', 'alpha', AnyPER, { alhpa: 0.5 }],
    ['evicton', 'eviction', AnyPER, { evicton: 'lowest-priority' }],
    ['obsDtpye', 'obsDtype', AnyRB, { obsDtpye: 'uint8' }],
    ['actoinShape', 'actionShape', AnyRB, { actoinShape: [2] }],
    ['betaFrame', 'betaFrames', AnyPER, { betaFrame: 10 }],
  ])('#12.16 a misspelt option %s is refused, naming it and suggesting %s', (key, meant, Ctor, extra) => {
    expectOptionError(() => new Ctor({ capacity: 8, obsShape: [2], seed: 1, ...extra }), new RegExp(`'${key}'`), new RegExp(`did you mean '${meant}'`));
  });
  test('#12.16 an unknown option is refused, naming it', () => {
    expectOptionError(() => new AnyRB({ capacity: 8, obsShape: [2], seed: 1, colour: 'blue' }), /'colour'/);
    expectOptionError(() => new AnyRB({ capacity: 8, seed: 1, fields: { a: { shape: [], dtype: 'float32' } }, frobnicate: true }), /'frobnicate'/);
  });
  test('#12.16 prioritized-only options on a uniform buffer are refused, naming them', () => {
    expectOptionError(() => new AnyRB({ capacity: 8, obsShape: [2], seed: 1, alpha: 0.5 }), /'alpha'/);
    expectOptionError(() => new AnyRB({ capacity: 8, obsShape: [2], seed: 1, eviction: 'lowest-priority' }), /'eviction'/);
  });
  test.each([
    ['alpha', AnyPER],
    ['betaStart', AnyPER],
    ['betaEnd', AnyPER],
    ['betaFrames', AnyPER],
    ['epsilon', AnyPER],
    ['eviction', AnyPER],
    ['obsDtype', AnyRB],
    ['actionShape', AnyRB],
    ['actionDtype', AnyRB],
    ['extraFields', AnyRB],
  ])('#12.16 %s: null is refused (not taken as the default), naming the option', (key, Ctor) => {
    const e = errorOf(() => new Ctor({ capacity: 8, obsShape: [2], seed: 1, [key]: null }));
    expect(describeError(e)).toMatch(new RegExp(`^\\w+Error: [^]*\\b${key}\\b`));
    expect(e).toBeInstanceOf(ReplayError);
  });
  test('#12.16 both `fields` and `obsShape` is a ShapeError naming both', () => {
    expectThrow(() => new AnyRB({ capacity: 8, seed: 1, obsShape: [2], fields: { a: { shape: [], dtype: 'float32' } } }), ShapeError, /fields/, /obsShape/);
  });
  test('#12.16 an extra key in a field spec is a ShapeError naming it (fields and extraFields)', () => {
    expectThrow(() => new AnyRB({ capacity: 8, seed: 1, fields: { a: { shape: [], dtype: 'float32', dtpye: 'int32' } } }), ShapeError, /'dtpye'/);
    expectThrow(() => new AnyRB({ capacity: 8, seed: 1, obsShape: [2], extraFields: { logp: { shape: [], dtype: 'float32', shpae: [3] } } }), ShapeError, /'shpae'/);
  });
  test('#12.16 an extra or misspelt key in `storage` is refused, naming it; no file is created', () => {
    const d = freshDir();
    const p = path.join(d, 'cold.rkb');
    expectOptionError(() => new AnyRB({ capacity: 8, obsShape: [2], seed: 1, storage: { type: 'mmap', path: p, mode: 0o600 } }), /'mode'/);
    expectOptionError(
      () => new AnyRB({ capacity: 8, obsShape: [2], seed: 1, storage: { type: 'tiered', path: p, hotcapacity: 4 } }),
      /'hotcapacity'/,
      /did you mean 'hotCapacity'/,
    );
    expect(fs.readdirSync(d)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------

describe('#12.17 smaller items', () => {
  test('#12.17 a bool typed array holding 2 or 255 is refused with an OutOfRangeError, as a plain [2] is; nothing is stored', () => {
    const rb = standard();
    rb.pushBatch(columns(0, 5));
    const before = snapshot(rb);
    expectThrow(() => rb.push({ ...transition(9), terminated: [2] as never }), OutOfRangeError); // the rule today's plain arrays follow
    for (const bad of [2, 255]) {
      expectThrow(() => rb.push({ ...transition(9), terminated: Uint8Array.of(bad) as never }), OutOfRangeError, /terminated/);
      const c = columns(10, 3);
      c.truncated[1] = bad;
      expectThrow(() => rb.pushBatch(c), OutOfRangeError, /truncated/);
      expect(snapshot(rb)).toEqual(before);
    }
    const multi = new ReplayBuffer({ capacity: 4, seed: 1, fields: { mask: { shape: [3], dtype: 'bool' } } });
    expectThrow(() => multi.push({ mask: Uint8Array.of(0, 1, 2) }), OutOfRangeError, /mask/);
    expect(multi.length).toBe(0);
    rb.close();
    multi.close();
  });

  test('#12.17 a pushBatch whose columns were all transferred away (detached) is a ReplayError, not a silent no-op', () => {
    const rb = standard();
    rb.pushBatch(columns(0, 5));
    const before = snapshot(rb);
    const c = columns(10, 3);
    for (const v of Object.values(c)) structuredClone(v, { transfer: [v.buffer as ArrayBuffer] });
    expect(c.obs.length).toBe(0); // detached
    expectThrow(() => rb.pushBatch(c), ReplayError, /detached|transferred/i);
    expect(snapshot(rb)).toEqual(before);
    rb.close();
  });

  test('#12.17 a buffer cannot be cloned or posted to a worker as a hollow object: a clear error naming replaykit', () => {
    for (const rb of [standard(), prioritized()]) {
      rb.pushBatch(columns(0, 5));
      const e = errorOf(() => structuredClone(rb));
      expect(describeError(e)).toMatch(/replaykit|ReplayBuffer/i);
      expect(e instanceof ReplayError || (e as Error | undefined)?.name === 'DataCloneError').toBe(true);
      const { port1, port2 } = new MessageChannel();
      try {
        expect(describeError(errorOf(() => port1.postMessage(rb)))).toMatch(/replaykit|ReplayBuffer/i);
      } finally {
        port1.close();
        port2.close();
      }
      expect(rb.length).toBe(5);
      rb.close();
    }
  });

  test('#12.17 a uniform buffer refuses { priority } and { priorities } with an OutOfRangeError; nothing is stored', () => {
    const rb = standard();
    rb.pushBatch(columns(0, 5));
    const before = snapshot(rb);
    const anyRb = rb as unknown as { push(t: unknown, o: unknown): number; pushBatch(c: unknown, o: unknown): void };
    expectThrow(() => anyRb.push(transition(9), { priority: 2 }), OutOfRangeError, /priority/);
    expectThrow(() => anyRb.pushBatch(columns(10, 3), { priorities: [1, 2, 3] }), OutOfRangeError, /priorities/);
    expect(snapshot(rb)).toEqual(before);
    rb.close();
  });

  test('#12.17 sample options that are not an object are refused; nothing drawn (generator and beta unchanged)', () => {
    for (const rb of [standard(), prioritized()]) {
      rb.pushBatch(columns(0, 5));
      const before = snapshot(rb);
      for (const bad of [5, 'out', true, 1n, Symbol('x')]) {
        const e = errorOf(() => (rb.sample as (n: number, o: unknown) => unknown).call(rb, 2, bad));
        expect([String(typeof bad), e instanceof ReplayError]).toEqual([String(typeof bad), true]);
        expect(snapshot(rb)).toEqual(before);
      }
      rb.close();
    }
  });

  test('#12.17 getStepsAndIterator checks maxIter when nEpochs > 0; nothing is prepared on refusal', () => {
    const rb = standard();
    rb.pushBatch(columns(0, 5));
    for (const maxIter of [-1, 1.5, NaN, '3', null])
      expectThrow(() => rb.getStepsAndIterator({ nEpochs: 1, batchSize: 2, maxIter: maxIter as never }), OutOfRangeError, /maxIter/);
    expectThrow(() => rb.getNextBatch(), StateError); // no iterator was made by the refused calls
    rb.close();
  });
});

// ---------------------------------------------------------------------------------------------

describe('#12.18 a ReplayError, never a plain RangeError/TypeError', () => {
  test('#12.18 fake array-likes with length 2^40 or negative in pushBatch are a ShapeError; nothing is stored', () => {
    const rb = standard();
    const scalarFirst = new ReplayBuffer({ capacity: 8, seed: 1, fields: { r: { shape: [], dtype: 'float32' }, o: { shape: [2], dtype: 'float32' } } });
    rb.pushBatch(columns(0, 5));
    const before = snapshot(rb);
    const fake = (rows: number, elems: number) => ({ length: rows * elems });
    for (const rows of [2 ** 38, -1]) {
      const c = { obs: fake(rows, 4), action: fake(rows, 1), reward: fake(rows, 1), nextObs: fake(rows, 4), terminated: fake(rows, 1), truncated: fake(rows, 1) };
      expectThrow(() => rb.pushBatch(c as never), ShapeError);
      expect(snapshot(rb)).toEqual(before);
    }
    for (const rows of [2 ** 40, -2]) expectThrow(() => scalarFirst.pushBatch({ r: fake(rows, 1), o: fake(rows, 2) } as never), ShapeError);
    expect(scalarFirst.length).toBe(0);
    rb.close();
    scalarFirst.close();
  });

  test('#12.18 an epoch batchSize of 2^33 is an OutOfRangeError and the generator is not advanced', () => {
    const rb = standard();
    rb.pushBatch(columns(0, 5));
    const before = snapshot(rb);
    expectThrow(() => rb.epochs({ batchSize: 2 ** 33 }).next(), OutOfRangeError, /batchSize/);
    expectThrow(() => rb.createEpochIterator({ batchSize: 2 ** 33 }).next(), OutOfRangeError, /batchSize/);
    expect(snapshot(rb)).toEqual(before);
    rb.close();
  });

  test('#12.18 an epoch batch is sized by the items it holds, not by batchSize (2^30 with 5 items stored)', () => {
    const rb = standard();
    rb.pushBatch(columns(0, 5));
    const batches = [...rb.epochs({ batchSize: 2 ** 30, shuffle: false })];
    expect(batches.length).toBe(1);
    expect(batches[0].indices.length).toBe(5);
    expect(batches[0].obs.length).toBe(20);
    expect(Array.from({ length: 5 }, (_, i) => checkRow(batches[0], i))).toEqual([0, 1, 2, 3, 4]);
    rb.close();
  });

  test('#12.18 a save path with a NUL byte is an ArchiveError that does not expose the temporary file', async () => {
    const rb = standard();
    rb.pushBatch(columns(0, 5));
    const d = freshDir();
    const bad = path.join(d, 'ck\0pt.rkb');
    const e1 = expectThrow(() => rb.saveSync(bad), ArchiveError);
    const e2 = await expectReject(() => rb.save(bad), ArchiveError);
    for (const e of [e1, e2]) expect(e.message).not.toMatch(/\.tmp-/);
    expect(fs.readdirSync(d)).toEqual([]);
    rb.saveSync(path.join(d, 'ok.rkb')); // the failed saves left the buffer able to save
    rb.close();
  });
});

// ---------------------------------------------------------------------------------------------

test('#12.18 a load path with a NUL byte is an ArchiveError; the file named by the part before the NUL is not opened', async () => {
  const rb = standard();
  rb.pushBatch(columns(0, 5));
  const file = fresh('ckpt.rkb');
  rb.saveSync(file);
  rb.close();
  const bad = `${file}\0.bak`;
  expectThrow(() => openArchive(bad), ArchiveError);
  expectThrow(() => ReplayBuffer.loadSync(bad), ArchiveError);
  await expectReject(() => ReplayBuffer.load(bad), ArchiveError);
});

describe('#12.19 messages that say what is wrong', () => {
  test('#12.19 a sparse shape [, 4] is a ShapeError naming the field and the hole', () => {
    // eslint-disable-next-line no-sparse-arrays
    const shape = [, 4];
    expectThrow(() => new AnyRB({ capacity: 4, seed: 1, fields: { obs: { shape, dtype: 'float32' } } }), ShapeError, /'obs'/, /shape\[0\]/i);
    expectThrow(() => new AnyRB({ capacity: 4, seed: 1, obsShape: shape }), ShapeError, /obs/, /shape\[0\]/i);
  });

  test.each(['toString', 'valueOf', 'hasOwnProperty'])('#12.19 a missing field named %s (an Object.prototype key) is a ShapeError about the missing field', (name) => {
    const rb = new ReplayBuffer({ capacity: 4, seed: 1, fields: { [name]: { shape: [], dtype: 'float32' }, x: { shape: [], dtype: 'float32' } } });
    const missing = new RegExp(`missing[^]*'${name}'`);
    expectThrow(() => rb.push({ x: 1 } as never), ShapeError, missing);
    expectThrow(() => rb.pushBatch({ x: new Float32Array(2) } as never), ShapeError, missing);
    expect(rb.length).toBe(0);
    rb.push({ [name]: 3, x: 4 } as never); // such a field is a field like any other
    expect(Array.from((rb.sampleAll() as Record<string, Float32Array>)[name])).toEqual([3]);
    rb.close();
  });

  test('#12.19 an out-of-range seed\'s message states both bounds', () => {
    for (const seed of [2 ** 60, -(2 ** 60), 0.5]) {
      const e = expectThrow(() => new ReplayBuffer({ ...standardOptions, seed }), OutOfRangeError, /seed/);
      expect(e.message).toMatch(/-9007199254740991[^]*\b9007199254740991|-?2\^53|safe integer/);
    }
  });

  test('#12.19 a bigint capacity is shown as a bigint (10n)', () => {
    expectThrow(() => new AnyRB({ ...standardOptions, capacity: 10n }), OutOfRangeError, /capacity/, /\b10n\b/);
  });

  test('#12.19 a tiered hotCapacity not below capacity says capacity must exceed hotCapacity, never an empty range', () => {
    for (const [capacity, hotCapacity] of [[1, 1], [5, 5], [5, 9]]) {
      const d = freshDir();
      const e = expectThrow(() => new ReplayBuffer({ ...standardOptions, capacity, storage: { type: 'tiered', hotCapacity, path: path.join(d, 'c.rkb') } }), OutOfRangeError);
      expect(e.message).toMatch(/capacity must exceed (the )?hotCapacity|hotCapacity must be (less|smaller) than (the )?capacity/i);
      expect(e.message).not.toMatch(/\[1, 0\]/);
      expect(fs.readdirSync(d)).toEqual([]);
    }
  });

  test('#12.19 a detached obs column is blamed on obs', () => {
    const rb = standard();
    const c = columns(0, 3);
    structuredClone(c.obs, { transfer: [c.obs.buffer as ArrayBuffer] });
    const e = expectThrow(() => rb.pushBatch(c), ReplayError, /'obs'/);
    expect(e.message).not.toMatch(/'action'/);
    expect(rb.length).toBe(0);
    rb.close();
  });
});

// =============================================================================================
// Public-API checks of the items whose fixes are native or in the storage files (H1, H3 own
// their C++ tests); kept apart so that they can be told from the facade's items.

describe('native items', () => {
  test('#12.1 saveSync after createEpochIterator() or getStepsAndIterator() before any batch writes an archive that loads', () => {
    const preps: [string, (rb: ReplayBuffer) => void][] = [
      ['createEpochIterator', (rb) => rb.createEpochIterator({ batchSize: 4 })],
      ['getStepsAndIterator nEpochs 1', (rb) => rb.getStepsAndIterator({ nEpochs: 1, maxIter: 10, batchSize: 4 })],
      ['getStepsAndIterator nEpochs 0', (rb) => rb.getStepsAndIterator({ nEpochs: 0, maxIter: 10, batchSize: 4 })],
    ];
    for (const [name, prep] of preps) {
      const rb = standard();
      rb.pushBatch(columns(0, 10));
      prep(rb);
      const file = fresh('ep.rkb');
      rb.saveSync(file);
      const e = errorOf(() => ReplayBuffer.loadSync(file).close());
      expect([name, describeError(e)]).toEqual([name, '(nothing thrown)']);
      const again = ReplayBuffer.loadSync(file);
      expect(plain(again.getNextBatch())).toEqual(plain(rb.getNextBatch()));
      again.close();
      rb.close();
    }
  });

  test('#12.2 a storage path that exists (a file, a symlink) is a StorageError; the file is left as it was', () => {
    for (const [name, storageAt] of diskKinds) {
      const d = freshDir();
      const precious = path.join(d, 'precious.txt');
      fs.writeFileSync(precious, 'not yours to truncate\n');
      const link = path.join(d, 'link.rkb');
      fs.symlinkSync(precious, link);
      for (const p of [precious, link]) {
        expect([name, p, describeError(errorOf(() => standard(storageAt(p)).close()))]).toEqual([name, p, expect.stringMatching(/^StorageError/)]);
        expect(fs.readFileSync(precious, 'utf8')).toBe('not yours to truncate\n');
        expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
      }
    }
  });

  test('#12.4 close() deletes the storage file only if its path still names the file it opened', () => {
    for (const [, storageAt] of diskKinds) {
      const p = fresh('reused.rkb');
      const first = standard(storageAt(p));
      fs.rmSync(p); // someone removes it ...
      const second = standard(storageAt(p)); // ... and a new buffer is made on the path
      second.pushBatch(columns(0, 5));
      first.close();
      expect(fs.existsSync(p)).toBe(true);
      expect(second.sampleAll().reward.length).toBe(5);
      second.close();
      expect(fs.existsSync(p)).toBe(false);
    }
  });

  test('#12.6 a schema the archive format cannot hold (over 1,024 fields) is refused when the buffer is made, or its archive loads', () => {
    const fields: Record<string, { shape: number[]; dtype: 'float32' }> = {};
    for (let i = 0; i < 1100; i++) fields[`f${i}`] = { shape: [], dtype: 'float32' };
    const e = errorOf(() => new ReplayBuffer({ capacity: 2, seed: 1, fields }).close());
    if (e === undefined) {
      const rb = new ReplayBuffer({ capacity: 2, seed: 1, fields });
      const file = fresh('wide.rkb');
      rb.saveSync(file);
      expect(describeError(errorOf(() => ReplayBuffer.loadSync(file).close()))).toBe('(nothing thrown)');
      rb.close();
    } else expect(describeError(e)).toMatch(/^(ShapeError|OutOfRangeError)[^]*1,?024/);
  });

  test('#12.11 updates and pushes that would make the total priority overflow are refused; nothing applied', () => {
    const per = new PrioritizedReplayBuffer({ ...standardOptions, alpha: 1 });
    per.pushBatch(columns(0, 2));
    const before = snapshot(per);
    expectThrow(() => per.updatePriorities([0, 1], [1e308, 1e308]), OutOfRangeError);
    expect(snapshot(per)).toEqual(before);
    per.updatePriorities([0], [1e308]);
    expectThrow(() => per.push(transition(2), { priority: 1e308 }), OutOfRangeError);
    expect(Number.isFinite(per.totalPriority)).toBe(true);
    per.close();
  });

  test('#12.12 importance-sampling weights stay in (0, 1] with priorities 1e-300 and 1e300, beta 1', () => {
    const per = new PrioritizedReplayBuffer({ ...standardOptions, alpha: 1, betaStart: 1 });
    per.pushBatch(columns(0, 2), { priorities: [1e-300, 1e300] });
    for (let r = 0; r < 200; r++) {
      const b = per.sample(2);
      for (const w of b.weights) {
        expect(w).toBeGreaterThan(0);
        expect(w).toBeLessThanOrEqual(1);
      }
    }
    per.close();
  });

  test('#12.8 a mapped file truncated by someone else is an error, not SIGBUS (child process)', () => {
    const d = freshDir();
    const r = child(`
      const out = {};
      for (const kind of ['mmap', 'tiered']) {
        const p = path.join(${JSON.stringify(d)}, kind + '.rkb');
        const storage = kind === 'mmap' ? { type: 'mmap', path: p } : { type: 'tiered', hotCapacity: 2, path: p };
        const rb = new rk.ReplayBuffer({ capacity: 64, obsShape: [256], seed: 1, storage });
        const n = 64;
        rb.pushBatch({ obs: new Float32Array(n * 256), action: new Float32Array(n), reward: new Float32Array(n), nextObs: new Float32Array(n * 256), terminated: new Uint8Array(n), truncated: new Uint8Array(n) });
        fs.truncateSync(p, 0);
        let e;
        try { rb.sample(64); } catch (err) { e = err; }
        out[kind] = errName(e);
        try { rb.close(); } catch {}
      }
      const a = path.join(${JSON.stringify(d)}, 'ckpt.rkb');
      const b = new rk.ReplayBuffer({ capacity: 64, obsShape: [256], seed: 1 });
      b.pushBatch({ obs: new Float32Array(64 * 256), action: new Float32Array(64), reward: new Float32Array(64), nextObs: new Float32Array(64 * 256), terminated: new Uint8Array(64), truncated: new Uint8Array(64) });
      b.saveSync(a);
      const arc = rk.openArchive(a);
      fs.truncateSync(a, 4096);
      let e;
      try { arc.verify(); } catch (err) { e = err; }
      out.verify = e === undefined ? 'returned' : errName(e);
      report(out);
    `);
    expect({ signal: r.signal, timedOut: r.timedOut }).toEqual({ signal: null, timedOut: false });
    const rep = lastReport(r) as Record<string, string>;
    expect(rep.mmap).toMatch(/^ReplayError:StorageError/);
    expect(rep.tiered).toMatch(/^ReplayError:StorageError/);
    expect(rep.verify).toMatch(/^ReplayError:ArchiveError|^returned$/);
  });

  test('#12.9 openArchive and loadSync on a FIFO are an ArchiveError at once, not a hang (child process)', () => {
    const d = freshDir();
    const fifo = path.join(d, 'pipe.rkb');
    const mk = spawnSync('mkfifo', [fifo]);
    if (mk.status !== 0) throw new Error('mkfifo is needed for this test');
    const r = child(
      `
      const out = {};
      for (const [name, f] of [['open', () => rk.openArchive(${JSON.stringify(fifo)})], ['loadSync', () => rk.ReplayBuffer.loadSync(${JSON.stringify(fifo)})]]) {
        let e; try { f(); } catch (err) { e = err; }
        out[name] = errName(e);
      }
      report(out);
    `,
      10_000,
    );
    expect({ signal: r.signal, timedOut: r.timedOut }).toEqual({ signal: null, timedOut: false });
    expect(lastReport(r)).toEqual({ open: expect.stringMatching(/^ReplayError:(ArchiveError|StorageError)/), loadSync: expect.stringMatching(/^ReplayError:(ArchiveError|StorageError)/) });
  });
});

