/**
 * Observations stored once (issue #16): the `next` of a field spec, the shorthand's
 * `nextObsFromNext`, `frameStack` and `validateNext`, checked against the schema. The core
 * stores each frame once and rebuilds next observations and stacks at sample time
 * (native/core/derived.h has the design).
 * @module
 */
import { OutOfRangeError, ShapeError } from '../errors';
import { describe } from './dtypes';
import { checkInteger } from './checks';
import { checkKeys } from './options';
import type { ResolvedField } from './fields';

/**
 * Frame stacking (option `frameStack`): `field` (an observation field with a `next`) holds
 * stacks of `frames` frames, its shape `[frames, ...frameShape]` (e.g. `[4, 84, 84]`).
 *
 * Input convention: pushes give full stacks, as an Atari wrapper (SB3's `VecFrameStack`,
 * gym's `FrameStack`) hands them to the agent, so that a buffer with `frameStack` takes exactly
 * the pushes of one without it. Only the newest frame of each pushed stack (the last along the
 * first axis) is stored; sampled stacks are rebuilt from the newest frames of the previous steps
 * of the same episode and environment stream, with zeros before the episode's first step
 * (Dopamine's convention, and SB3's `VecFrameStack`'s; gym's `FrameStack` repeats the first
 * frame instead, and such stacks come back with zeros there). Pushing full stacks costs copying
 * them across the call; it spares a second, single-frame push API and keeps batches equal to
 * the un-deduplicated buffer's.
 */
export interface FrameStackOptions {
  /** The stacked observation field (the shorthand's is `'obs'`). */
  field: string;
  /** Frames in a stack: an integer in [2, 64], equal to the field's first dimension. */
  frames: number;
}

/** What the core is told. @internal */
export interface ResolvedDerived {
  readonly obs: number;
  readonly next: number;
  readonly frames: number;
  readonly validateNext: boolean;
  /** The episode fields the index reads. */
  readonly terminated: number;
  readonly truncated: number;
}

/**
 * Resolves the derived-field options: `nextOf` maps each field whose spec has `next` to its
 * next field's name (resolveFields collects it). @internal
 */
export function resolveDerived(
  options: { frameStack?: unknown; validateNext?: unknown },
  fields: readonly ResolvedField[],
  nextOf: ReadonlyMap<string, string>,
): ResolvedDerived | null {
  const index = (name: string) => fields.findIndex((f) => f.name === name);
  if (nextOf.size === 0) {
    if (options.frameStack !== undefined)
      throw new ShapeError("frameStack needs its field's next observation stored once: give the field `next: 'nextObs'` (shorthand: `nextObsFromNext: true`)");
    if (options.validateNext !== undefined) throw new OutOfRangeError('validateNext is an option of buffers with a `next` field (shorthand: `nextObsFromNext: true`)');
    return null;
  }
  if (nextOf.size > 1) throw new ShapeError(`only one field can have a \`next\`, got ${[...nextOf.keys()].map((k) => `'${k}'`).join(', ')}`);
  const [obsName, nextName] = [...nextOf][0];
  let frames = 1;
  if (options.frameStack !== undefined) {
    const fs = options.frameStack;
    if (typeof fs !== 'object' || fs === null) throw new OutOfRangeError(`frameStack must be an object like { field: 'obs', frames: 4 }, got ${describe(fs)}`);
    checkKeys(fs, ['field', 'frames'], 'frameStack option');
    const o = fs as { field?: unknown; frames?: unknown };
    if (o.field !== obsName)
      throw new ShapeError(`frameStack.field must be the field with a \`next\` ('${obsName}'), got ${describe(o.field)}`);
    frames = checkInteger(o.frames, 'frameStack.frames', 2, 64);
    const shape = fields[index(obsName)].shape;
    if (shape[0] !== frames)
      throw new ShapeError(`frameStack: field '${obsName}' must have shape [${frames}, ...frame] (a stack of ${frames} frames), got [${shape.join(', ')}]`);
  }
  let validateNext = false;
  if (options.validateNext !== undefined) {
    if (typeof options.validateNext !== 'boolean') throw new OutOfRangeError(`validateNext must be a boolean, got ${describe(options.validateNext)}`);
    validateNext = options.validateNext;
  }
  const flag = (name: string) => {
    const i = index(name);
    if (i < 0 || fields[i].dtype !== 'bool' || fields[i].shape.length !== 0)
      throw new ShapeError(`a \`next\` field needs a field '${name}' (a bool scalar): the episode's end says which item is the last; the shorthand schema has it`);
    return i;
  };
  return { obs: index(obsName), next: index(nextName), frames, validateNext, terminated: flag('terminated'), truncated: flag('truncated') };
}
