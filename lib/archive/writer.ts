/**
 * The archive writer thread of an async save: it writes each chunk the core exports (and
 * checksums) into one of two shared buffers, so the main thread stays free meanwhile.
 * Its source is inline (eval) so that the package needs no separate worker file.
 * @module
 */
import { Worker } from 'node:worker_threads';

/** The worker thread's source: it writes chunks where they go, then the header, flushes and closes. */
const WRITER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const { tmp, fileBytes, slots } = workerData;
let fd = -1;
const fail = (e) => {
  try { if (fd >= 0) fs.closeSync(fd); } catch {}
  fd = -1;
  try { fs.rmSync(tmp, { force: true }); } catch {}
  parentPort.postMessage({ type: 'error', message: String(e && e.message), code: e && e.code, syscall: e && e.syscall });
};
try {
  fd = fs.openSync(tmp, 'wx', 0o644);
  fs.ftruncateSync(fd, fileBytes);
  parentPort.postMessage({ type: 'ready' });
} catch (e) { fail(e); }
parentPort.on('message', (m) => {
  try {
    if (m.type === 'chunk') {
      const view = new Uint8Array(slots[m.slot], 0, m.length);
      fs.writeSync(fd, view, 0, m.length, m.position);
      parentPort.postMessage({ type: 'free', slot: m.slot, length: m.length });
    } else if (m.type === 'header') {
      fs.writeSync(fd, m.bytes, 0, m.bytes.length, 0);
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      fd = -1;
      parentPort.postMessage({ type: 'closed' });
    } else if (m.type === 'abort') {
      if (fd >= 0) fs.closeSync(fd);
      fd = -1;
      fs.rmSync(tmp, { force: true });
      parentPort.postMessage({ type: 'closed' });
    }
  } catch (e) { fail(e); }
});
`;

/** @internal */
export type WriterMessage =
  | { type: 'ready' | 'closed' }
  | { type: 'free'; slot: number; length: number }
  | { type: 'error'; message: string; code?: string; syscall?: string };

/** The main thread's end of the writer thread: messages in order, errors as exceptions. @internal */
export class WriterThread {
  readonly slots: SharedArrayBuffer[];
  #worker: Worker;
  #queue: WriterMessage[] = [];
  #waiting: ((m: WriterMessage) => void) | null = null;
  #failure: Error | null = null;

  constructor(tmp: string, fileBytes: number, slotBytes: number) {
    this.slots = [new SharedArrayBuffer(slotBytes), new SharedArrayBuffer(slotBytes)];
    this.#worker = new Worker(WRITER_SOURCE, { eval: true, workerData: { tmp, fileBytes, slots: this.slots } });
    this.#worker.on('message', (m: WriterMessage) => this.#deliver(m));
    this.#worker.on('error', (e: Error) => this.#deliver({ type: 'error', message: e.message }));
    this.#worker.on('exit', (code) => {
      if (code !== 0) this.#deliver({ type: 'error', message: `the archive writer thread exited with code ${code}` });
    });
  }

  #deliver(m: WriterMessage): void {
    if (this.#waiting) {
      const w = this.#waiting;
      this.#waiting = null;
      w(m);
    } else this.#queue.push(m);
  }

  /** The next message; throws the writer's error. */
  async receive(): Promise<WriterMessage> {
    if (this.#failure) throw this.#failure;
    const m = this.#queue.shift() ?? (await new Promise<WriterMessage>((resolve) => (this.#waiting = resolve)));
    if (m.type === 'error') {
      const e = Object.assign(new Error(m.message), { code: m.code, syscall: m.syscall });
      this.#failure = e;
      throw e;
    }
    return m;
  }

  post(m: object): void {
    this.#worker.postMessage(m);
  }

  /** Closes and removes the temporary file after an abort (best effort), then ends the thread. */
  async abort(): Promise<void> {
    if (!this.#failure) {
      this.post({ type: 'abort' });
      try {
        for (let m = await this.receive(); m.type !== 'closed'; m = await this.receive());
      } catch {
        // already failed: the writer removed the file
      }
    }
    await this.stop();
  }

  async stop(): Promise<void> {
    await this.#worker.terminate();
  }
}
