/**
 * The embedded store: SQLite through better-sqlite3 (v12; v13 needs Node 22), WAL journal, schema
 * migrations by `user_version`. better-sqlite3 is synchronous: a micro-batch is one short transaction.
 * `synchronous=FULL` (default) makes a commit survive power loss; `NORMAL` survives a process crash.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { LsError } from '../core/errors.ts';
import type { DecisionKind } from '../pipeline/decide.ts';
import { identityCodec, REENCRYPT_CHUNK, REENCRYPT_TABLES, type FieldCodec } from './codec.ts';
import { SQLITE_MIGRATIONS } from './migrations/sqlite.ts';
import { alertFromRow, codecFor, deadLetterFromRow, machinePointFromRow, outcomeFromRow, PART_COLUMNS, partFromRow, type DbRow } from './rows.ts';
import {
  accuracyFrom, encodeValues,
  type AccuracyRow, type AlertRecord, type DeadLetterRecord, type FeedbackRecord, type MachineOutcome, type MachinePoint, type PartView,
  type Store, type StoreCounts, type WriteBatch, type WriteResult,
} from './store.ts';

export interface SqliteStoreOptions {
  /** Database file, or ':memory:'. */
  readonly file: string;
  readonly codec?: FieldCodec;
  readonly synchronous?: 'FULL' | 'NORMAL';
  /**
   * `worker`: batches are committed by a dedicated thread with its own connection, so a commit waiting
   * for fsync does not stall the event loop (MQTT, models, HTTP); reads stay on this thread (WAL lets
   * readers and the writer work at once). `inline` (default): commits on the calling thread.
   */
  readonly writer?: 'inline' | 'worker';
}

/** The INSERT statements of a write batch; shared with the writer thread (sqlite-writer.mjs). */
const INSERT_SQL = {
  reading: `INSERT INTO readings (msg_id, line, machine, ts, type, key_id, vals, model, version, probability, decision, latency_ms)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  part: `INSERT INTO parts (part_id, msg_id, line, station, ts, model, version, label, probability, outputs, decision, reason, latency_ms, content_type, key_id, image)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  decision: 'INSERT INTO decisions (ts, line, source, part_id, decision, reason) VALUES (?, ?, ?, ?, ?, ?)',
  alert: 'INSERT INTO alerts (id, ts, line, source, severity, message, probability, contributions) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
  dead: 'INSERT INTO dead_letters (ts, topic, kind, reason, payload) VALUES (?, ?, ?, ?, ?)',
  feedback: `INSERT INTO feedback (part_id, true_label, by, ts) VALUES (?, ?, ?, ?)
    ON CONFLICT (part_id) DO UPDATE SET true_label = excluded.true_label, by = excluded.by, ts = excluded.ts`,
  machineTruth: `INSERT INTO machine_truth (reading_msg_id, line, machine, failure, modes, by, ts) VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (reading_msg_id) DO UPDATE SET failure = excluded.failure, modes = excluded.modes, by = excluded.by, ts = excluded.ts`,
} as const;

type SqlValue = string | number | null | Uint8Array;
/** A write batch as statement parameters (blobs already encoded by the codec). */
type SqlBatch = Record<keyof typeof INSERT_SQL, SqlValue[][]>;

function toSqlBatch(b: WriteBatch, codec: FieldCodec): SqlBatch {
  return {
    reading: (b.readings ?? []).map((r) => [r.msg_id, r.line, r.machine, r.ts, r.type ?? null, codec.keyId, codec.encode(encodeValues(r.values)),
      r.model ?? null, r.version ?? null, r.probability ?? null, r.decision ?? null, r.latency_ms ?? null]),
    part: (b.parts ?? []).map((p) => [p.part_id, p.msg_id, p.line, p.station, p.ts, p.model, p.version, p.label, p.probability, JSON.stringify(p.outputs),
      p.decision, p.reason, p.latency_ms, p.image?.content_type ?? null, p.image ? codec.keyId : null, p.image ? codec.encode(p.image.bytes) : null]),
    decision: (b.decisions ?? []).map((d) => [d.ts, d.line, d.source, d.part_id ?? null, d.decision, d.reason]),
    alert: (b.alerts ?? []).map((a) => [a.id, a.ts, a.line, a.source, a.severity, a.message, a.probability ?? null, a.contributions ? JSON.stringify(a.contributions) : null]),
    dead: (b.deadLetters ?? []).map((d) => [d.ts, d.topic, d.kind, d.reason, d.payload]),
    feedback: (b.feedback ?? []).map((f) => [f.part_id, f.true_label, f.by, f.ts]),
    machineTruth: (b.machineTruth ?? []).map((t) => [t.reading_msg_id, t.line, t.machine, t.failure ? 1 : 0, t.modes?.length ? t.modes.join(',') : null, t.by, t.ts]),
  };
}

/** The writer thread: one connection that only commits batches, answering each with its result. */
class WriterThread {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, { resolve(r: WriteResult): void; reject(e: unknown): void }>();
  private next = 0;
  private failed: Error | undefined;

  constructor(file: string, synchronous: 'FULL' | 'NORMAL') {
    this.worker = new Worker(new URL('./sqlite-writer.mjs', import.meta.url), { workerData: { file, synchronous, sql: INSERT_SQL } });
    this.worker.on('message', (m: { id: number; result?: WriteResult; error?: string }) => {
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.error !== undefined) w?.reject(new Error(m.error));
      else w?.resolve(m.result!);
    });
    const fail = (e: Error): void => {
      this.failed = e;
      for (const w of this.waiting.values()) w.reject(e);
      this.waiting.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`the store writer thread exited (${code})`)));
  }

  write(batch: SqlBatch): Promise<WriteResult> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ id, batch });
    });
  }

  /** Finish the batches already sent, then stop the thread. */
  async close(): Promise<void> {
    const done = new Promise<void>((r) => this.worker.once('exit', () => r()));
    this.worker.postMessage({ close: true });
    await done;
  }
}

function storeError(e: unknown, what: string): LsError {
  return e instanceof LsError ? e : new LsError('LS_ERR_STORE', `${what}: ${(e as Error).message}`, { cause: e });
}

/** Pause between re-encryption chunks, so the writer thread (and the event loop) get their turn. */
const REENCRYPT_PAUSE_MS = 20;

export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  private readonly db: Database.Database;
  private readonly codec: FieldCodec;
  private readonly st: Record<string, Database.Statement>;
  private readonly tx: (b: SqlBatch) => WriteResult;
  private readonly worker: WriterThread | undefined;
  private closed = false;

  constructor(opts: SqliteStoreOptions) {
    this.codec = opts.codec ?? identityCodec;
    try {
      if (opts.file !== ':memory:') mkdirSync(path.dirname(path.resolve(opts.file)), { recursive: true });
      this.db = new Database(opts.file);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${opts.synchronous ?? 'FULL'}`);
      this.db.pragma('busy_timeout = 5000');
      this.migrate();
    } catch (e) {
      throw storeError(e, `cannot open ${opts.file}`);
    }
    const db = this.db;
    this.st = Object.fromEntries(Object.entries(INSERT_SQL).map(([k, q]) => [k, db.prepare(q)]));
    const s = this.st;
    this.tx = db.transaction((b: SqlBatch): WriteResult => {
      let readings = 0;
      let parts = 0;
      for (const r of b.reading) readings += s.reading!.run(...r).changes;
      for (const r of b.part) parts += s.part!.run(...r).changes;
      for (const r of b.decision) s.decision!.run(...r);
      for (const r of b.alert) s.alert!.run(...r);
      for (const r of b.dead) s.dead!.run(...r);
      for (const r of b.feedback) s.feedback!.run(...r);
      for (const r of b.machineTruth) s.machineTruth!.run(...r);
      return { readings, parts };
    });
    if (opts.writer === 'worker' && opts.file !== ':memory:') this.worker = new WriterThread(opts.file, opts.synchronous ?? 'FULL');
  }

  private migrate(): void {
    const current = Number(this.db.pragma('user_version', { simple: true }));
    for (let v = current; v < SQLITE_MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(SQLITE_MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  private run<T>(what: string, fn: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new LsError('LS_ERR_SHUTTING_DOWN', 'the store is closed'));
    try {
      return Promise.resolve(fn());
    } catch (e) {
      return Promise.reject(storeError(e, what));
    }
  }

  writeBatch(b: WriteBatch): Promise<WriteResult> {
    if (this.closed) return Promise.reject(new LsError('LS_ERR_SHUTTING_DOWN', 'the store is closed'));
    let rows: SqlBatch;
    try {
      rows = toSqlBatch(b, this.codec);
    } catch (e) {
      return Promise.reject(storeError(e, 'write'));
    }
    if (this.worker) return this.worker.write(rows).catch((e: unknown) => Promise.reject(storeError(e, 'write')));
    return this.run('write', () => this.tx(rows));
  }

  async addFeedback(f: FeedbackRecord): Promise<PartView> {
    const part = await this.getPart(f.part_id);
    if (!part) throw new LsError('LS_ERR_NOT_FOUND', `no part "${f.part_id}"`, { subject: f.part_id });
    await this.writeBatch({ feedback: [f] });
    return (await this.getPart(f.part_id))!;
  }

  getPart(partId: string): Promise<PartView | undefined> {
    return this.run('read part', () => {
      const r = this.db.prepare(`SELECT ${PART_COLUMNS} FROM parts p LEFT JOIN feedback f ON f.part_id = p.part_id WHERE p.part_id = ?`).get(partId) as DbRow | undefined;
      return r ? partFromRow(r) : undefined;
    });
  }

  async overrideDecision(partId: string, decision: DecisionKind, reason: string, ts: number): Promise<PartView> {
    const part = await this.getPart(partId);
    if (!part) throw new LsError('LS_ERR_NOT_FOUND', `no part "${partId}"`, { subject: partId });
    await this.run('override decision', () =>
      this.db.transaction(() => {
        this.db.prepare('UPDATE parts SET decision = ?, reason = ? WHERE part_id = ?').run(decision, reason, partId);
        this.db.prepare('INSERT INTO decisions (ts, line, source, part_id, decision, reason) VALUES (?, ?, ?, ?, ?, ?)').run(ts, part.line, part.station, partId, decision, reason);
      })(),
    );
    return (await this.getPart(partId))!;
  }

  getPartImage(partId: string): Promise<{ bytes: Uint8Array; content_type: string } | undefined> {
    return this.run('read image', () => {
      const r = this.db.prepare('SELECT image, content_type, key_id FROM parts WHERE part_id = ?').get(partId) as DbRow | undefined;
      if (!r || r.image === null) return undefined;
      return { bytes: codecFor(r.key_id, this.codec).decode(new Uint8Array(r.image as Uint8Array)), content_type: String(r.content_type) };
    });
  }

  recentParts(opts: { limit: number; station?: string; line?: string }): Promise<PartView[]> {
    return this.run('read parts', () => {
      const rows = this.db
        .prepare(`SELECT ${PART_COLUMNS} FROM parts p LEFT JOIN feedback f ON f.part_id = p.part_id
          WHERE (? IS NULL OR p.station = ?) AND (? IS NULL OR p.line = ?) ORDER BY p.ts DESC, p.rowid DESC LIMIT ?`)
        .all(opts.station ?? null, opts.station ?? null, opts.line ?? null, opts.line ?? null, opts.limit) as DbRow[];
      return rows.map(partFromRow);
    });
  }

  partOutcomes(opts: { since: number; station?: string; line?: string }): Promise<Array<{ ts: number; defect: boolean }>> {
    return this.run('read outcomes', () =>
      (this.db
        .prepare(`SELECT ts, decision FROM parts WHERE ts >= ? AND (? IS NULL OR station = ?) AND (? IS NULL OR line = ?) ORDER BY ts`)
        .all(opts.since, opts.station ?? null, opts.station ?? null, opts.line ?? null, opts.line ?? null) as DbRow[]).map((r) => ({ ts: Number(r.ts), defect: r.decision !== 'PASS' })),
    );
  }

  listAlerts(opts: { state: 'open' | 'all'; limit?: number }): Promise<AlertRecord[]> {
    return this.run('read alerts', () =>
      (this.db
        .prepare(`SELECT * FROM alerts WHERE (? = 'all' OR acknowledged_at IS NULL) ORDER BY ts DESC LIMIT ?`)
        .all(opts.state, opts.limit ?? 500) as DbRow[]).map(alertFromRow),
    );
  }

  getAlert(id: string): Promise<AlertRecord | undefined> {
    return this.run('read alert', () => {
      const r = this.db.prepare('SELECT * FROM alerts WHERE id = ?').get(id) as DbRow | undefined;
      return r ? alertFromRow(r) : undefined;
    });
  }

  ackAlert(id: string, by: string, ts: number): Promise<AlertRecord> {
    return this.run('acknowledge alert', () => {
      this.db.prepare('UPDATE alerts SET acknowledged_by = ?, acknowledged_at = ? WHERE id = ? AND acknowledged_at IS NULL').run(by, ts, id);
      const row = this.db.prepare('SELECT * FROM alerts WHERE id = ?').get(id) as DbRow | undefined;
      if (!row) throw new LsError('LS_ERR_NOT_FOUND', `no alert "${id}"`, { subject: id });
      return alertFromRow(row);
    });
  }

  accuracy(): Promise<AccuracyRow[]> {
    return this.run('read accuracy', () => {
      const rows = this.db.prepare('SELECT p.model, p.version, p.label AS predicted, f.true_label AS truth FROM feedback f JOIN parts p ON p.part_id = f.part_id').all() as DbRow[];
      return accuracyFrom(rows.map((r) => ({ model: String(r.model), version: Number(r.version), predicted: String(r.predicted), truth: String(r.truth) })));
    });
  }

  machineOutcomes(limit: number): Promise<MachineOutcome[]> {
    return this.run('read machine outcomes', () =>
      (this.db
        // the newest reports through their ts index, then each one's reading by primary key: the cost
        // follows `limit`, not the size of the store (the line reads this every 10 s)
        .prepare(`SELECT r.model, r.version, r.probability, t.failure FROM (SELECT reading_msg_id, failure, ts FROM machine_truth ORDER BY ts DESC LIMIT ?) t
          JOIN readings r ON r.msg_id = t.reading_msg_id WHERE r.probability IS NOT NULL AND r.model IS NOT NULL ORDER BY t.ts DESC, r.ts DESC`)
        .all(limit) as DbRow[]).map(outcomeFromRow),
    );
  }

  machineHistory(machine: string, sinceMs: number, limit = 5000): Promise<MachinePoint[]> {
    return this.run('read machine history', () => {
      const rows = this.db.prepare('SELECT ts, probability, decision, vals, key_id FROM readings WHERE machine = ? AND ts >= ? ORDER BY ts DESC LIMIT ?').all(machine, sinceMs, limit) as DbRow[];
      return rows.reverse().map((r) => machinePointFromRow(r, codecFor(r.key_id, this.codec)));
    });
  }

  deadLetters(limit: number): Promise<DeadLetterRecord[]> {
    return this.run('read dead letters', () => (this.db.prepare('SELECT * FROM dead_letters ORDER BY id DESC LIMIT ?').all(limit) as DbRow[]).map(deadLetterFromRow));
  }

  counts(): Promise<StoreCounts> {
    return this.run('count', () => {
      const c = (sql: string): number => Number((this.db.prepare(sql).get() as DbRow).n);
      return {
        readings: c('SELECT COUNT(*) AS n FROM readings'),
        distinct_readings: c('SELECT COUNT(DISTINCT msg_id) AS n FROM readings'),
        parts: c('SELECT COUNT(*) AS n FROM parts'),
        alerts: c('SELECT COUNT(*) AS n FROM alerts'),
        dead_letters: c('SELECT COUNT(*) AS n FROM dead_letters'),
        feedback: c('SELECT COUNT(*) AS n FROM feedback'),
        decisions: c('SELECT COUNT(*) AS n FROM decisions'),
      };
    });
  }

  prune(opts: { olderThanMs?: number; maxReadings?: number }): Promise<{ deleted: number }> {
    return this.run('prune', () =>
      this.db.transaction(() => {
        let deleted = 0;
        if (opts.olderThanMs !== undefined) {
          const t = opts.olderThanMs;
          deleted += this.db.prepare('DELETE FROM readings WHERE ts < ?').run(t).changes;
          deleted += this.db.prepare('DELETE FROM feedback WHERE part_id IN (SELECT part_id FROM parts WHERE ts < ?)').run(t).changes;
          deleted += this.db.prepare('DELETE FROM parts WHERE ts < ?').run(t).changes;
          deleted += this.db.prepare('DELETE FROM decisions WHERE ts < ?').run(t).changes;
          deleted += this.db.prepare('DELETE FROM alerts WHERE ts < ? AND acknowledged_at IS NOT NULL').run(t).changes;
          deleted += this.db.prepare('DELETE FROM dead_letters WHERE ts < ?').run(t).changes;
          deleted += this.db.prepare('DELETE FROM machine_truth WHERE ts < ?').run(t).changes;
        }
        if (opts.maxReadings) {
          deleted += this.db
            .prepare('DELETE FROM readings WHERE rowid IN (SELECT rowid FROM readings ORDER BY ts DESC LIMIT -1 OFFSET ?)')
            .run(opts.maxReadings).changes;
        }
        return { deleted };
      })(),
    );
  }

  /**
   * Re-encrypt in transactions of REENCRYPT_CHUNK rows with a pause between them: a running line's
   * writer thread gets the database between chunks, and memory stays bounded on a large store.
   */
  async reencryptAll(from: FieldCodec, to: FieldCodec): Promise<{ rows: number }> {
    if (from.keyId === to.keyId) return { rows: 0 };
    let rows = 0;
    for (const t of REENCRYPT_TABLES) {
      const select = this.db.prepare(`SELECT ${t.key} AS k, ${t.blob} AS v FROM ${t.table} WHERE key_id = ?${t.where} LIMIT ?`);
      const update = this.db.prepare(`UPDATE ${t.table} SET ${t.blob} = ?, key_id = ? WHERE ${t.key} = ?`);
      const chunk = this.db.transaction((): number => {
        const rs = select.all(from.keyId, REENCRYPT_CHUNK) as DbRow[];
        for (const r of rs) update.run(to.encode(from.decode(new Uint8Array(r.v as Uint8Array))), to.keyId, r.k);
        return rs.length;
      });
      for (;;) {
        // IMMEDIATE: take the write lock first (waiting up to busy_timeout). A deferred transaction that read
        // first cannot upgrade once the writer thread has committed since, and fails with SQLITE_BUSY at once.
        const n = await this.run('re-encrypt', () => chunk.immediate());
        rows += n;
        if (n < REENCRYPT_CHUNK) break;
        // leave the lock free for a moment: the writer thread's busy handler polls and must find a gap
        await new Promise((r) => setTimeout(r, REENCRYPT_PAUSE_MS));
      }
    }
    return { rows };
  }

  async dispose(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.worker?.close();
    this.db.close();
  }
}
