/**
 * Loads the native addon (a prebuilt binary from `prebuilds/`, or a local build) and
 * registers the error classes its errors become. The only file that holds the addon
 * object; everything else reaches it through ./open.
 * @module
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ArchiveError, DtypeError, OutOfRangeError, ShapeError, StateError, StorageError } from '../errors';
import type { Addon, NativeLimits } from './contract';

/** The package's root: the nearest directory up from here with binding.gyp or prebuilds/. */
function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'binding.gyp')) || fs.existsSync(path.join(dir, 'prebuilds'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return path.join(__dirname, '..', '..', '..'); // dist/lib/native -> the package
    dir = up;
  }
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
/** @internal */
export const addon: Addon = require('node-gyp-build')(packageRoot());
addon.setErrorClasses({ shape: ShapeError, dtype: DtypeError, range: OutOfRangeError, state: StateError, archive: ArchiveError, storage: StorageError });

/** The limits the core enforces when a buffer is made: the facade checks them with its own messages. @internal */
export const LIMITS: NativeLimits = addon.limits;
