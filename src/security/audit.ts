/**
 * The tamper-evident audit log (contract 8): append-only JSON lines, each entry carrying the
 * SHA-256 of (previous entry's hash + this entry in canonical JSON). Editing, removing or
 * reordering any entry breaks the chain from that entry on, and `verify()` names the first bad one.
 * A small head file (`<log>.head`) records the last sequence number and hash, so cutting entries
 * off the end is detected too. Appends are serialised and fsynced before they resolve.
 *
 * Rotation: once the active file reaches `maxBytes`, it is renamed to the next numbered segment
 * (`audit.log.1`, `audit.log.2`, ...) and a fresh `audit.log` goes on with the same chain (seq and
 * prev continue across the cut). Verification walks every segment then the active file, so a
 * segment that was removed, emptied or edited is named like any other bad entry. Keep the segments
 * (or verify them together from the archive): the chain starts at seq 1 in segment 1.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { LsError } from '../core/errors.ts';
import { systemClock, type Clock } from '../core/clock.ts';
import type { Disposable } from '../core/dispose.ts';
import { canonicalJson } from './canonical-json.ts';
import { withFileLock } from './secret-file.ts';

/** Hash the first entry chains to. */
export const GENESIS_HASH = '0'.repeat(64);

/** Size at which the active file is rotated into a numbered segment, by default. */
export const DEFAULT_AUDIT_MAX_BYTES = 64 * 1024 * 1024;

/** What callers append (contract 8). */
export interface AuditInput {
  actor: string;
  action: string;
  target: string;
  details?: unknown;
}

/** One stored entry. */
export interface AuditEntry {
  seq: number;
  ts: string;
  actor: string;
  action: string;
  target: string;
  details?: unknown;
  prev: string;
  hash: string;
}

const inputSchema = z.strictObject({
  actor: z.string().min(1).max(200),
  action: z.string().min(1).max(100),
  target: z.string().max(500),
  details: z.unknown().optional(),
});

const entrySchema = z.strictObject({
  seq: z.number().int().positive(),
  ts: z.string(),
  actor: z.string(),
  action: z.string(),
  target: z.string(),
  details: z.unknown().optional(),
  prev: z.string().regex(/^[a-f0-9]{64}$/),
  hash: z.string().regex(/^[a-f0-9]{64}$/),
});

/** Result of checking a log: ok with the entry count, or the first bad entry (1-based line and seq) and why. */
export type AuditVerifyResult =
  | { ok: true; entries: number; head: string; segments: number }
  | { ok: false; entries: number; file: string; line: number; seq?: number; reason: string };

/** The chain hash of an entry (everything but `hash` itself). */
export function entryHash(e: Omit<AuditEntry, 'hash'>): string {
  const { prev, ...body } = e;
  return createHash('sha256').update(prev).update(canonicalJson(body)).digest('hex');
}

/** Filters for listing entries (GET /v1/audit). */
export interface AuditQuery {
  limit?: number;
  actor?: string;
  action?: string;
  /** Only entries with seq greater than this. */
  after?: number;
}

export class AuditLog implements Disposable {
  private tail: Promise<unknown> = Promise.resolve();
  private seq = 0;
  private last = GENESIS_HASH;
  private closed = false;

  private constructor(
    readonly file: string,
    private readonly clock: Clock,
    private readonly maxBytes: number,
  ) {}

  /**
   * Open a log for appending; the existing chain (every segment) is verified first so new entries
   * never extend a broken chain. `maxBytes`: rotate the active file at this size (0 = never).
   */
  static async open(file: string, opts: { clock?: Clock; allowBroken?: boolean; maxBytes?: number } = {}): Promise<AuditLog> {
    await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
    const log = new AuditLog(file, opts.clock ?? systemClock, opts.maxBytes ?? DEFAULT_AUDIT_MAX_BYTES);
    const r = await verifyAuditLog(file);
    if (!r.ok && !opts.allowBroken) {
      throw new LsError('LS_ERR_AUDIT_TAMPERED', `${path.basename(r.file)} entry at line ${r.line}${r.seq ? ` (seq ${r.seq})` : ''}: ${r.reason}`, { subject: r.file });
    }
    const lastEntry = (await readEntries(file)).at(-1)?.entry ?? (await lastSegmentEntry(file));
    if (lastEntry) {
      log.seq = lastEntry.seq;
      log.last = lastEntry.hash;
    }
    return log;
  }

  /** Append one entry (contract 8); resolves after it is on disk. */
  async append(input: AuditInput): Promise<void> {
    await this.record(input);
  }

  /** Append one entry and return it as stored (with seq and hash). */
  record(input: AuditInput): Promise<AuditEntry> {
    const run = async (): Promise<AuditEntry> => {
      if (this.closed) throw new LsError('LS_ERR_SHUTTING_DOWN', 'audit log is closed', { subject: this.file });
      const i = inputSchema.parse(input);
      return withFileLock(this.file, () => this.appendLocked(i));
    };
    const p = this.tail.then(run, run);
    this.tail = p.catch(() => undefined);
    return p;
  }

  /**
   * Another process (the CLI while the server runs) may have appended since our last write, so the
   * chain continues from the entry now last in the file, read under the lock.
   */
  private async appendLocked(i: z.infer<typeof inputSchema>): Promise<AuditEntry> {
    const lastEntry = (await readLastEntry(this.file)) ?? (await lastSegmentEntry(this.file));
    if (lastEntry) {
      this.seq = lastEntry.seq;
      this.last = lastEntry.hash;
    }
    await this.rotateIfFull();
    const body: Omit<AuditEntry, 'hash'> = {
      seq: this.seq + 1,
      ts: new Date(this.clock.now()).toISOString(),
      actor: i.actor,
      action: i.action,
      target: i.target,
      ...(i.details !== undefined ? { details: JSON.parse(JSON.stringify(i.details)) as unknown } : {}),
      prev: this.last,
    };
    const entry: AuditEntry = { ...body, hash: entryHash(body) };
    const fh = await fs.open(this.file, 'a', 0o600);
    try {
      await fh.write(`${canonicalJson(entry)}\n`);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    const tmp = `${headFile(this.file)}.tmp`;
    await fs.writeFile(tmp, `${JSON.stringify({ seq: entry.seq, hash: entry.hash })}\n`, { mode: 0o600 });
    await fs.rename(tmp, headFile(this.file));
    this.seq = entry.seq;
    this.last = entry.hash;
    return entry;
  }

  /** Under the lock: move a full active file to the next segment, so this entry starts a new file. */
  private async rotateIfFull(): Promise<void> {
    if (this.maxBytes <= 0) return;
    let size: number;
    try {
      size = (await fs.stat(this.file)).size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new LsError('LS_ERR_FILE_READ', (e as Error).message, { subject: this.file });
    }
    if (size < this.maxBytes) return;
    const segments = await segmentFiles(this.file);
    const next = segments.length ? segmentNumber(this.file, segments.at(-1)!) + 1 : 1;
    await fs.rename(this.file, `${this.file}.${next}`);
    // make the rename itself durable before the new file's first entry is
    const dir = await fs.open(path.dirname(path.resolve(this.file)), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  /** Newest entries first, filtered; reads older segments only as far as needed. */
  async list(q: AuditQuery = {}): Promise<AuditEntry[]> {
    await this.tail;
    const limit = Math.min(Math.max(q.limit ?? 100, 1), 1000);
    const out: AuditEntry[] = [];
    const files = [this.file, ...(await segmentFiles(this.file)).reverse()];
    for (const f of files) {
      const entries = await readEntries(f);
      for (let i = entries.length - 1; i >= 0; i--) {
        if (out.length >= limit) return out;
        const e = entries[i]!.entry;
        if (!e) continue;
        if (q.after !== undefined && e.seq <= q.after) return out;
        if (q.actor && e.actor !== q.actor) continue;
        if (q.action && e.action !== q.action) continue;
        out.push(e);
      }
    }
    return out;
  }

  /** Verify the whole file. */
  async verify(): Promise<AuditVerifyResult> {
    await this.tail;
    return verifyAuditLog(this.file);
  }

  /** Wait for pending appends, then refuse new ones. */
  async dispose(): Promise<void> {
    await this.tail;
    this.closed = true;
  }
}

/** The last entry of the log, reading only its tail (entries are small; a huge one falls back to a full read). */
async function readLastEntry(file: string): Promise<AuditEntry | undefined> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new LsError('LS_ERR_FILE_READ', (e as Error).message, { subject: file });
  }
  try {
    const { size } = await fh.stat();
    if (size === 0) return undefined;
    const n = Math.min(size, 256 * 1024);
    const buf = Buffer.alloc(n);
    await fh.read(buf, 0, n, size - n);
    const lines = buf.toString('utf8').split('\n').filter(Boolean);
    const lastLine = lines.at(-1);
    const complete = n === size || lines.length > 1;
    if (lastLine !== undefined && complete) {
      const p = entrySchema.safeParse(JSON.parse(lastLine));
      if (p.success) return p.data as AuditEntry;
    }
  } catch {
    // unreadable tail: the full read below reports it
  } finally {
    await fh.close();
  }
  const entries = await readEntries(file);
  const last = entries.at(-1);
  if (last && !last.entry) throw new LsError('LS_ERR_AUDIT_TAMPERED', `entry at line ${last.line}: ${last.error ?? 'unreadable'}`, { subject: file });
  return last?.entry;
}

function headFile(file: string): string {
  return `${file}.head`;
}

/** Rotated segments of a log, oldest first: `<file>.1`, `<file>.2`, ... */
export async function segmentFiles(file: string): Promise<string[]> {
  const dir = path.dirname(path.resolve(file));
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new LsError('LS_ERR_FILE_READ', (e as Error).message, { subject: dir });
  }
  const base = path.basename(file);
  return names
    .filter((n) => n.startsWith(`${base}.`) && /^\d+$/.test(n.slice(base.length + 1)))
    .map((n) => path.join(dir, n))
    .sort((a, b) => segmentNumber(file, a) - segmentNumber(file, b));
}

function segmentNumber(file: string, segment: string): number {
  return Number(path.basename(segment).slice(path.basename(file).length + 1));
}

/** The last entry of the newest rotated segment (what a fresh active file chains to). */
async function lastSegmentEntry(file: string): Promise<AuditEntry | undefined> {
  const last = (await segmentFiles(file)).at(-1);
  return last ? readLastEntry(last) : undefined;
}

async function readEntries(file: string): Promise<Array<{ line: number; raw: string; entry?: AuditEntry; error?: string }>> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new LsError('LS_ERR_FILE_READ', (e as Error).message, { subject: file });
  }
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.map((raw, i) => {
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      return { line: i + 1, raw, error: 'not valid JSON' };
    }
    const p = entrySchema.safeParse(json);
    return p.success ? { line: i + 1, raw, entry: p.data as AuditEntry } : { line: i + 1, raw, error: 'not an audit entry' };
  });
}

/**
 * Check every entry's hash, its link to the previous one and the sequence, across the rotated
 * segments (oldest first) and the active file, then the head file.
 */
export async function verifyAuditLog(file: string): Promise<AuditVerifyResult> {
  const segments = await segmentFiles(file);
  let prev = GENESIS_HASH;
  let expectSeq = 1;
  let total = 0;
  let lastEntry: AuditEntry | undefined;
  for (let k = 0; k < segments.length; k++) {
    if (segmentNumber(file, segments[k]!) !== k + 1) {
      return { ok: false, entries: total, file: `${file}.${k + 1}`, line: 1, seq: expectSeq, reason: `segment ${path.basename(file)}.${k + 1} is missing (rotated segments must be kept, or verified together from the archive)` };
    }
  }
  let active: Array<{ line: number; raw: string; entry?: AuditEntry; error?: string }> = [];
  for (const f of [...segments, file]) {
    const entries = await readEntries(f);
    if (f !== file && entries.length === 0) return { ok: false, entries: total, file: f, line: 1, seq: expectSeq, reason: 'rotated segment is empty (its entries were removed)' };
    for (const r of entries) {
      const bad = (reason: string): AuditVerifyResult => ({ ok: false, entries: total + entries.length, file: f, line: r.line, ...(r.entry ? { seq: r.entry.seq } : {}), reason });
      if (!r.entry) return bad(r.error ?? 'unreadable');
      const e = r.entry;
      const { hash, ...body } = e;
      if (entryHash(body) !== hash) return bad('content does not match its hash (entry edited)');
      if (e.prev !== prev) return bad('does not chain to the previous entry (an entry before it was removed, edited or reordered)');
      if (e.seq !== expectSeq) return bad(`sequence ${e.seq} where ${expectSeq} was expected (entries removed or reordered)`);
      prev = hash;
      expectSeq += 1;
      lastEntry = e;
    }
    total += entries.length;
    active = entries;
  }
  let head: { seq: number; hash: string } | undefined;
  try {
    head = z.object({ seq: z.number(), hash: z.string() }).parse(JSON.parse(await fs.readFile(headFile(file), 'utf8')));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      return { ok: false, entries: total, file, line: active.length + 1, reason: 'head file is unreadable' };
    }
  }
  const lastSeq = expectSeq - 1;
  // A crash between writing the entry and the head leaves the head exactly one entry behind: that is not tampering.
  const headLagsByOne = head !== undefined && head.seq === lastSeq - 1 && lastEntry?.prev === head.hash;
  if (head && !headLagsByOne && (head.seq !== lastSeq || head.hash !== prev)) {
    return {
      ok: false, entries: total, file, line: Math.max(1, Math.min(head.seq - (lastSeq - active.length), active.length + 1)), seq: Math.min(head.seq, expectSeq),
      reason: `the log ends at seq ${lastSeq} but the head records seq ${head.seq}: entries were removed from the end`,
    };
  }
  if (!head && total > 0) return { ok: false, entries: total, file, line: active.length + 1, reason: 'head file is missing' };
  return { ok: true, entries: total, head: prev, segments: segments.length };
}
