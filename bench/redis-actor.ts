/**
 * One actor process of the Redis bench (bench/redis.ts): connects, prints "ready", waits for
 * "go" on stdin, then sends ROWS MuJoCo rows in entries of 256: through RedisActor
 * (`rk`), or as raw XADDs of entries of the same bytes with the same client, 8 to a
 * MULTI/EXEC as RedisActor sends them (`raw`, the engine's roofline). Prints "done" and exits.
 * Usage: node redis-actor.js rk|raw URL STREAM ACTOR_ID ROWS
 */
import { RedisActor } from '../lib/redis/index';
import { connect, close } from '../lib/redis/client';
import { encodeEntry, wireSchema } from '../lib/redis/codec';
import { MUJOCO_SCHEMA, ENTRY_ROWS, mujocoRows } from './redis-schema';

async function main(): Promise<void> {
  const [mode, url, stream, actorId, rowsText] = process.argv.slice(2);
  const rows = Number(rowsText);
  const cols = mujocoRows(ENTRY_ROWS * 16);
  const go = new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
  if (mode === 'rk') {
    const actor = new RedisActor({ url, stream, actorId, schema: MUJOCO_SCHEMA, flushRows: ENTRY_ROWS, flushMs: 0 });
    await actor.flush(); // connected
    process.stdout.write('ready\n');
    await go;
    for (let sent = 0; sent < rows; sent += ENTRY_ROWS * 16) await actor.pushBatch(cols);
    await actor.close();
  } else {
    const conn = connect({ url }, 'bench');
    const entry = encodeEntry(wireSchema(MUJOCO_SCHEMA), actorId, 1, ENTRY_ROWS, cols, undefined);
    await conn.client.call('PING');
    process.stdout.write('ready\n');
    await go;
    // The same sending pattern as RedisActor's: 8 entries in one MULTI/EXEC a round trip.
    for (let sent = 0; sent < rows; sent += ENTRY_ROWS * 8) {
      const tx = conn.client.multi();
      for (let i = 0; i < 8 && sent + i * ENTRY_ROWS < rows; i++) tx.callBuffer('XADD', stream, '*', 'e', entry);
      await tx.exec();
    }
    await close(conn);
  }
  process.stdout.write('done\n');
  process.stdin.destroy(); // stdin stays readable otherwise, and the process would not exit
}

main().catch((e) => {
  process.stderr.write(`redis-actor: ${e instanceof Error ? e.stack : e}\n`);
  process.exit(1);
});
