/**
 * The internal hook through which other parts of replaykit keep named state with a buffer and
 * in its archives (BufferCore.extensions; the core's Extension sections): what is set is
 * saved, a function is called when the save plans the archive, a load gives the bytes back,
 * and the core refuses names it cannot store.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ArchiveError, PrioritizedReplayBuffer, ReplayBuffer } from 'replaykit';
import { bufferState } from '../../lib/buffer/base';

const options = { capacity: 8, obsShape: [2], seed: 1 } as const;
const row = (x: number) => ({ obs: [x, x], action: 0, reward: x, nextObs: [x, x], terminated: false, truncated: false });
let dir: string;
beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'replaykit-ext-'))));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('extensions round-trip through save and load, sync and async, for both kinds of buffer', async () => {
  for (const Kind of [ReplayBuffer, PrioritizedReplayBuffer as unknown as typeof ReplayBuffer]) {
    const b = new Kind(options);
    b.push(row(1));
    let calls = 0;
    const saved: number[] = [];
    const state = bufferState(b as never);
    state.extensions.set('bytes', Uint8Array.of(1, 2, 3, 255));
    state.extensions.set('replaykit/redis:s', {
      data: () => {
        calls++;
        return new TextEncoder().encode(JSON.stringify({ at: b.length }));
      },
      saved: () => saved.push(calls),
    });
    state.extensions.set('empty', new Uint8Array(0));
    const file = path.join(dir, `${Kind.name}.rkb`);
    b.saveSync(file);
    expect(calls).toBe(1);
    b.push(row(2)); // after the save: not in the archive
    await b.save(file + '.async');
    expect(calls).toBe(2);
    expect(saved).toEqual([1, 2]); // told after each save, not before
    await expect(b.save(path.join(dir, 'no-such-dir', 'x.rkb'))).rejects.toThrow();
    expect(calls).toBe(3);
    expect(saved).toEqual([1, 2]); // a failed save tells nothing
    const again = Kind.loadSync(file);
    const got = bufferState(again as never).extensions;
    expect([...got.keys()]).toEqual(['bytes', 'replaykit/redis:s', 'empty']);
    expect(Array.from(got.get('bytes') as Uint8Array)).toEqual([1, 2, 3, 255]);
    expect(JSON.parse(new TextDecoder().decode(got.get('replaykit/redis:s') as Uint8Array))).toEqual({ at: 1 });
    expect((got.get('empty') as Uint8Array).length).toBe(0);
    const later = await Kind.load(file + '.async');
    expect(JSON.parse(new TextDecoder().decode(bufferState(later as never).extensions.get('replaykit/redis:s') as Uint8Array))).toEqual({ at: 2 });
    // An archive saved without extensions loads with none.
    const plain = new Kind(options);
    plain.saveSync(file + '.plain');
    expect(bufferState(Kind.loadSync(file + '.plain') as never).extensions.size).toBe(0);
    for (const x of [b, again, later, plain]) x.close();
  }
});

test('names the core cannot store are an ArchiveError and the save leaves no file', () => {
  const b = new ReplayBuffer(options);
  const file = path.join(dir, 'bad.rkb');
  bufferState(b as never).extensions.set('x'.repeat(257), new Uint8Array(1));
  expect(() => b.saveSync(file)).toThrow(ArchiveError);
  expect(fs.existsSync(file)).toBe(false);
  bufferState(b as never).extensions.clear();
  bufferState(b as never).extensions.set('', new Uint8Array(1));
  expect(() => b.saveSync(file)).toThrow(/empty name/);
  b.close();
});
