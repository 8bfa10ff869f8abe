/**
 * Unit tests of the public classes as objects (lib/buffer/public.ts and the classes under
 * it): their names in `.name`, `console.log` and stack traces, `instanceof`, and that no
 * internal state is reachable as a property.
 */
import { inspect } from 'node:util';
import * as replaykit from 'replaykit';
import { PrioritizedReplayBuffer, ReplayBuffer, StateError } from 'replaykit';

const options = { capacity: 8, obsShape: [2], seed: 1 } as const;

describe('the public classes', () => {
  test('are named ReplayBuffer and PrioritizedReplayBuffer, and nothing named Impl is exported', () => {
    expect(ReplayBuffer.name).toBe('ReplayBuffer');
    expect(PrioritizedReplayBuffer.name).toBe('PrioritizedReplayBuffer');
    expect(Object.keys(replaykit).filter((k) => /Impl|register/i.test(k))).toEqual([]);
  });

  test('console.log shows the class name and the public fields only', () => {
    const rb = new ReplayBuffer(options);
    const per = new PrioritizedReplayBuffer(options);
    expect(inspect(rb, { breakLength: Infinity })).toBe("ReplayBuffer { capacity: 8, seed: 1, storage: { type: 'memory' } }");
    expect(inspect(per, { breakLength: Infinity })).toBe("PrioritizedReplayBuffer { capacity: 8, seed: 1, storage: { type: 'memory' } }");
    expect(Object.getOwnPropertyNames(rb).sort()).toEqual(['capacity', 'notCloneable', 'seed', 'storage']);
    expect(Object.getOwnPropertySymbols(rb)).toEqual([]);
    rb.close();
    per.close();
  });

  test('stack traces name the class', () => {
    const rb = new ReplayBuffer(options);
    rb.close();
    let stack = '';
    try {
      rb.sample(1);
    } catch (e) {
      expect(e).toBeInstanceOf(StateError);
      stack = (e as Error).stack ?? '';
    }
    expect(stack).toMatch(/at ReplayBuffer\.sample /);
    const per = new PrioritizedReplayBuffer(options);
    per.close();
    expect(() => per.top(1)).toThrow(StateError);
    try {
      per.updatePriorities([0], [1]);
    } catch (e) {
      stack = (e as Error).stack ?? '';
    }
    expect(stack).toMatch(/at PrioritizedReplayBuffer\.updatePriorities /);
  });

  test('instanceof: every buffer is a ReplayBuffer; only prioritized ones are PrioritizedReplayBuffers', () => {
    const rb = new ReplayBuffer(options);
    const per = new PrioritizedReplayBuffer(options);
    expect(rb).toBeInstanceOf(ReplayBuffer);
    expect(per).toBeInstanceOf(ReplayBuffer);
    expect(per).toBeInstanceOf(PrioritizedReplayBuffer);
    expect(rb instanceof PrioritizedReplayBuffer).toBe(false);
    expect({} instanceof ReplayBuffer).toBe(false);
    expect((null as unknown as object) instanceof ReplayBuffer).toBe(false);
    // A subclass (in JavaScript) keeps the ordinary test.
    const Base = ReplayBuffer as unknown as new (o: typeof options) => object;
    class Mine extends Base {}
    const mine = new Mine(options) as unknown as typeof rb;
    expect(mine).toBeInstanceOf(ReplayBuffer);
    expect(mine).toBeInstanceOf(Mine);
    expect(Object.getPrototypeOf(Mine)).toBe(ReplayBuffer);
    expect(rb instanceof Mine).toBe(false);
    expect(per instanceof Mine).toBe(false);
    for (const b of [rb, per, mine]) b.close();
  });
});
