#!/usr/bin/env node
/**
 * The replaykit command.
 *
 *   replaykit inspect <archive> [--json]
 *
 * prints an archive's format version, kind, counts, sizes (the file's bytes per stored
 * transition among them), schema and whether every checksum holds; exits 1 when the archive is
 * invalid or a checksum fails.
 * @module
 */
import { parseArgs } from 'node:util';
import { openArchive } from './archive/archive';
import { ReplayError } from './errors';

const USAGE = `usage: replaykit inspect <archive> [--json]

  inspect   print an archive's format version, kind, counts, sizes, schema and checksums
  --json    print one JSON object instead of text`;

function human(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let b = bytes;
  while (b >= 1024 && i < units.length - 1) {
    b /= 1024;
    i++;
  }
  return `${i === 0 ? b : b.toFixed(1)} ${units[i]}`;
}

/** Runs the command with `argv` (without node and the script); returns the exit code. */
export function main(argv: string[], out: (line: string) => void = console.log, err: (line: string) => void = console.error): number {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  } catch (e) {
    err(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const [command, path, ...rest] = parsed.positionals;
  if (parsed.values.help) {
    out(USAGE);
    return 0;
  }
  if (command !== 'inspect' || path === undefined || rest.length > 0) {
    err(USAGE);
    return 2;
  }
  let archive;
  try {
    archive = openArchive(path);
  } catch (e) {
    if (!(e instanceof ReplayError)) throw e;
    if (parsed.values.json) out(JSON.stringify({ path, valid: false, error: e.message }));
    else err(`${path}: ${e.message}`);
    return 1;
  }
  try {
    const check = archive.verify();
    const report = {
      path: archive.path,
      valid: check.ok,
      formatVersion: archive.version,
      kind: archive.kind,
      length: archive.length,
      capacity: archive.capacity,
      fileBytes: archive.fileBytes,
      // The file's bytes per stored transition (everything: rows, keys, priorities, index, headers).
      bytesPerTransition: archive.length > 0 ? archive.fileBytes / archive.length : null,
      schema: archive.schema,
      // Observations stored once: which field, its next field (no rows in the file), the stack.
      derived: archive.derived ?? null,
      sections: check.sections,
    };
    if (parsed.values.json) {
      out(JSON.stringify(report));
    } else {
      out(`${report.path}`);
      out(`  format version  ${report.formatVersion}`);
      out(`  kind            ${report.kind}`);
      out(`  items           ${report.length} of capacity ${report.capacity}`);
      out(`  size            ${human(report.fileBytes)} (${report.fileBytes} bytes)`);
      if (report.bytesPerTransition !== null) out(`  per transition  ${report.bytesPerTransition.toFixed(1)} bytes`);
      out('  schema');
      const d = report.derived;
      const note = (name: string) =>
        d === null ? ''
        : name === d.next ? `  rebuilt from the next item's ${d.obs} (not stored)`
        : name === d.obs ? `  stored once${d.frames > 1 ? `: the newest of ${d.frames} stacked frames` : ''}`
        : '';
      for (const [name, f] of Object.entries(report.schema)) out(`    ${name.padEnd(16)} ${f.dtype.padEnd(8)} [${f.shape.join(', ')}]${note(name)}`);
      if (d !== null) out(`  stored once     ${d.obs} (next: ${d.next}, frames: ${d.frames}${d.validateNext ? ', validateNext' : ''})`);
      out('  checksums');
      for (const s of report.sections) out(`    ${s.ok ? 'ok  ' : 'BAD '} ${s.name.padEnd(22)} ${human(s.bytes)}`);
      out(check.ok ? '  every checksum holds' : '  CORRUPT: a checksum does not match');
    }
    return check.ok ? 0 : 1;
  } finally {
    archive.close();
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
