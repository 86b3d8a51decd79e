/**
 * The production store: PostgreSQL through `pg`. Same interface and contract tests as SQLite.
 * A micro-batch is one transaction with one multi-row INSERT per table (unnest of arrays), so a
 * batch of hundreds of readings costs one round trip per table. `schema` puts every table in its
 * own schema (tests use a fresh one per run).
 */
import pg from 'pg';
import { LsError } from '../core/errors.ts';
import type { DecisionKind } from '../pipeline/decide.ts';
import { identityCodec, REENCRYPT_CHUNK, REENCRYPT_TABLES, type FieldCodec } from './codec.ts';
import { POSTGRES_MIGRATIONS } from './migrations/postgres.ts';
import { alertFromRow, codecFor, deadLetterFromRow, machinePointFromRow, outcomeFromRow, PART_COLUMNS, partFromRow, type DbRow } from './rows.ts';
import {
  accuracyFrom, encodeValues,
  type AccuracyRow, type AlertRecord, type DeadLetterRecord, type FeedbackRecord, type MachineOutcome, type MachinePoint, type PartView,
  type Store, type StoreCounts, type WriteBatch, type WriteResult,
} from './store.ts';

export interface PostgresStoreOptions {
  /** postgres://user@host:port/db */
  readonly url: string;
  /** Schema holding the tables (created when missing); default `linesight`. */
  readonly schema?: string;
  readonly codec?: FieldCodec;
  readonly poolSize?: number;
}

const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,62}$/;

function storeError(e: unknown, what: string): LsError {
  return e instanceof LsError ? e : new LsError('LS_ERR_STORE', `${what}: ${(e as Error).message}`, { cause: e });
}

const buf = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

export class PostgresStore implements Store {
  readonly kind = 'postgres';
  private closed = false;

  private constructor(private readonly pool: pg.Pool, private readonly codec: FieldCodec, readonly schema: string) {}

  /** Connect, create the schema if needed and apply migrations. */
  static async open(opts: PostgresStoreOptions): Promise<PostgresStore> {
    const schema = opts.schema ?? 'linesight';
    if (!SCHEMA_RE.test(schema)) throw new LsError('LS_ERR_STORE', `invalid schema name "${schema}"`);
    const pool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize ?? 4, options: `-c search_path=${schema}` });
    pool.on('error', () => {
      // an idle client lost its connection; the next query reconnects or reports LS_ERR_STORE
    });
    const store = new PostgresStore(pool, opts.codec ?? identityCodec, schema);
    try {
      await store.migrate();
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw storeError(e, `cannot open ${opts.url.replace(/\/\/[^@]*@/, '//***@')}`);
    }
    return store;
  }

  private async migrate(): Promise<void> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      // serialise concurrent starters on the same database
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`linesight:${this.schema}`]);
      await c.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
      await c.query('CREATE TABLE IF NOT EXISTS linesight_schema_version (version INTEGER NOT NULL)');
      const r = await c.query('SELECT MAX(version) AS v FROM linesight_schema_version');
      const current = Number(r.rows[0]?.v ?? 0);
      for (let v = current; v < POSTGRES_MIGRATIONS.length; v++) {
        await c.query(POSTGRES_MIGRATIONS[v]!);
        await c.query('INSERT INTO linesight_schema_version (version) VALUES ($1)', [v + 1]);
      }
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  }

  private async q(what: string, sql: string, params: unknown[] = []): Promise<DbRow[]> {
    if (this.closed) throw new LsError('LS_ERR_SHUTTING_DOWN', 'the store is closed');
    try {
      return (await this.pool.query(sql, params)).rows as DbRow[];
    } catch (e) {
      throw storeError(e, what);
    }
  }

  async writeBatch(b: WriteBatch): Promise<WriteResult> {
    if (this.closed) throw new LsError('LS_ERR_SHUTTING_DOWN', 'the store is closed');
    const c = await this.pool.connect().catch((e: unknown) => {
      throw storeError(e, 'connect');
    });
    const codec = this.codec;
    try {
      await c.query('BEGIN');
      let readings = 0;
      let parts = 0;
      const rs = b.readings ?? [];
      if (rs.length) {
        const r = await c.query(
          `INSERT INTO readings (msg_id, line, machine, ts, type, key_id, vals, model, version, probability, decision, latency_ms)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::bytea[], $8::text[], $9::int[], $10::float8[], $11::text[], $12::float8[])
           ON CONFLICT DO NOTHING`,
          [rs.map((x) => x.msg_id), rs.map((x) => x.line), rs.map((x) => x.machine), rs.map((x) => x.ts), rs.map((x) => x.type ?? null), rs.map(() => codec.keyId),
            rs.map((x) => buf(codec.encode(encodeValues(x.values)))), rs.map((x) => x.model ?? null), rs.map((x) => x.version ?? null),
            rs.map((x) => x.probability ?? null), rs.map((x) => x.decision ?? null), rs.map((x) => x.latency_ms ?? null)],
        );
        readings = r.rowCount ?? 0;
      }
      for (const p of b.parts ?? []) {
        const r = await c.query(
          `INSERT INTO parts (part_id, msg_id, line, station, ts, model, version, label, probability, outputs, decision, reason, latency_ms, content_type, key_id, image)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) ON CONFLICT DO NOTHING`,
          [p.part_id, p.msg_id, p.line, p.station, p.ts, p.model, p.version, p.label, p.probability, JSON.stringify(p.outputs), p.decision, p.reason, p.latency_ms,
            p.image?.content_type ?? null, p.image ? codec.keyId : null, p.image ? buf(codec.encode(p.image.bytes)) : null],
        );
        parts += r.rowCount ?? 0;
      }
      const ds = b.decisions ?? [];
      if (ds.length) {
        await c.query(
          `INSERT INTO decisions (ts, line, source, part_id, decision, reason) SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])`,
          [ds.map((d) => d.ts), ds.map((d) => d.line), ds.map((d) => d.source), ds.map((d) => d.part_id ?? null), ds.map((d) => d.decision), ds.map((d) => d.reason)],
        );
      }
      for (const a of b.alerts ?? []) {
        await c.query(`INSERT INTO alerts (id, ts, line, source, severity, message, probability, contributions) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
          [a.id, a.ts, a.line, a.source, a.severity, a.message, a.probability ?? null, a.contributions ? JSON.stringify(a.contributions) : null]);
      }
      for (const d of b.deadLetters ?? []) {
        await c.query('INSERT INTO dead_letters (ts, topic, kind, reason, payload) VALUES ($1, $2, $3, $4, $5)', [d.ts, d.topic, d.kind, d.reason, buf(d.payload)]);
      }
      for (const f of b.feedback ?? []) {
        await c.query(`INSERT INTO feedback (part_id, true_label, by, ts) VALUES ($1, $2, $3, $4)
          ON CONFLICT (part_id) DO UPDATE SET true_label = excluded.true_label, by = excluded.by, ts = excluded.ts`, [f.part_id, f.true_label, f.by, f.ts]);
      }
      for (const t of b.machineTruth ?? []) {
        await c.query(
          `INSERT INTO machine_truth (reading_msg_id, line, machine, failure, modes, by, ts) VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (reading_msg_id) DO UPDATE SET failure = excluded.failure, modes = excluded.modes, by = excluded.by, ts = excluded.ts`,
          [t.reading_msg_id, t.line, t.machine, t.failure, t.modes?.length ? t.modes.join(',') : null, t.by, t.ts],
        );
      }
      await c.query('COMMIT');
      return { readings, parts };
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw storeError(e, 'write');
    } finally {
      c.release();
    }
  }

  async addFeedback(f: FeedbackRecord): Promise<PartView> {
    const part = await this.getPart(f.part_id);
    if (!part) throw new LsError('LS_ERR_NOT_FOUND', `no part "${f.part_id}"`, { subject: f.part_id });
    await this.writeBatch({ feedback: [f] });
    return (await this.getPart(f.part_id))!;
  }

  async getPart(partId: string): Promise<PartView | undefined> {
    const [r] = await this.q('read part', `SELECT ${PART_COLUMNS} FROM parts p LEFT JOIN feedback f ON f.part_id = p.part_id WHERE p.part_id = $1`, [partId]);
    return r ? partFromRow(r) : undefined;
  }

  async overrideDecision(partId: string, decision: DecisionKind, reason: string, ts: number): Promise<PartView> {
    const part = await this.getPart(partId);
    if (!part) throw new LsError('LS_ERR_NOT_FOUND', `no part "${partId}"`, { subject: partId });
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      await c.query('UPDATE parts SET decision = $1, reason = $2 WHERE part_id = $3', [decision, reason, partId]);
      await c.query('INSERT INTO decisions (ts, line, source, part_id, decision, reason) VALUES ($1, $2, $3, $4, $5, $6)', [ts, part.line, part.station, partId, decision, reason]);
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw storeError(e, 'override decision');
    } finally {
      c.release();
    }
    return (await this.getPart(partId))!;
  }

  async getPartImage(partId: string): Promise<{ bytes: Uint8Array; content_type: string } | undefined> {
    const [r] = await this.q('read image', 'SELECT image, content_type, key_id FROM parts WHERE part_id = $1', [partId]);
    if (!r || r.image === null) return undefined;
    return { bytes: codecFor(r.key_id, this.codec).decode(new Uint8Array(r.image as Uint8Array)), content_type: String(r.content_type) };
  }

  async recentParts(opts: { limit: number; station?: string; line?: string }): Promise<PartView[]> {
    const rows = await this.q('read parts', `SELECT ${PART_COLUMNS} FROM parts p LEFT JOIN feedback f ON f.part_id = p.part_id
      WHERE ($1::text IS NULL OR p.station = $1) AND ($2::text IS NULL OR p.line = $2) ORDER BY p.ts DESC, p.part_id DESC LIMIT $3`, [opts.station ?? null, opts.line ?? null, opts.limit]);
    return rows.map(partFromRow);
  }

  async partOutcomes(opts: { since: number; station?: string; line?: string }): Promise<Array<{ ts: number; defect: boolean }>> {
    const rows = await this.q('read outcomes', `SELECT ts, decision FROM parts WHERE ts >= $1 AND ($2::text IS NULL OR station = $2) AND ($3::text IS NULL OR line = $3) ORDER BY ts`,
      [opts.since, opts.station ?? null, opts.line ?? null]);
    return rows.map((r) => ({ ts: Number(r.ts), defect: r.decision !== 'PASS' }));
  }

  async listAlerts(opts: { state: 'open' | 'all'; limit?: number }): Promise<AlertRecord[]> {
    const rows = await this.q('read alerts', `SELECT * FROM alerts WHERE ($1 = 'all' OR acknowledged_at IS NULL) ORDER BY ts DESC LIMIT $2`, [opts.state, opts.limit ?? 500]);
    return rows.map(alertFromRow);
  }

  async getAlert(id: string): Promise<AlertRecord | undefined> {
    const [r] = await this.q('read alert', 'SELECT * FROM alerts WHERE id = $1', [id]);
    return r ? alertFromRow(r) : undefined;
  }

  async ackAlert(id: string, by: string, ts: number): Promise<AlertRecord> {
    await this.q('acknowledge alert', 'UPDATE alerts SET acknowledged_by = $1, acknowledged_at = $2 WHERE id = $3 AND acknowledged_at IS NULL', [by, ts, id]);
    const [row] = await this.q('read alert', 'SELECT * FROM alerts WHERE id = $1', [id]);
    if (!row) throw new LsError('LS_ERR_NOT_FOUND', `no alert "${id}"`, { subject: id });
    return alertFromRow(row);
  }

  async accuracy(): Promise<AccuracyRow[]> {
    const rows = await this.q('read accuracy', 'SELECT p.model, p.version, p.label AS predicted, f.true_label AS truth FROM feedback f JOIN parts p ON p.part_id = f.part_id');
    return accuracyFrom(rows.map((r) => ({ model: String(r.model), version: Number(r.version), predicted: String(r.predicted), truth: String(r.truth) })));
  }

  async machineOutcomes(limit: number): Promise<MachineOutcome[]> {
    const rows = await this.q(
      'read machine outcomes',
      // the newest reports through their ts index, then each one's reading by primary key (see SqliteStore)
      `SELECT r.model, r.version, r.probability, t.failure FROM (SELECT reading_msg_id, failure, ts FROM machine_truth ORDER BY ts DESC LIMIT $1) t
       JOIN readings r ON r.msg_id = t.reading_msg_id WHERE r.probability IS NOT NULL AND r.model IS NOT NULL ORDER BY t.ts DESC, r.ts DESC`,
      [limit],
    );
    return rows.map(outcomeFromRow);
  }

  async machineHistory(machine: string, sinceMs: number, limit = 5000): Promise<MachinePoint[]> {
    const rows = await this.q('read machine history', 'SELECT ts, probability, decision, vals, key_id FROM readings WHERE machine = $1 AND ts >= $2 ORDER BY ts DESC LIMIT $3', [machine, sinceMs, limit]);
    return rows.reverse().map((r) => machinePointFromRow(r, codecFor(r.key_id, this.codec)));
  }

  async deadLetters(limit: number): Promise<DeadLetterRecord[]> {
    return (await this.q('read dead letters', 'SELECT * FROM dead_letters ORDER BY id DESC LIMIT $1', [limit])).map(deadLetterFromRow);
  }

  async counts(): Promise<StoreCounts> {
    const [r] = await this.q('count', `SELECT
      (SELECT COUNT(*) FROM readings) AS readings, (SELECT COUNT(DISTINCT msg_id) FROM readings) AS distinct_readings,
      (SELECT COUNT(*) FROM parts) AS parts, (SELECT COUNT(*) FROM alerts) AS alerts, (SELECT COUNT(*) FROM dead_letters) AS dead_letters,
      (SELECT COUNT(*) FROM feedback) AS feedback, (SELECT COUNT(*) FROM decisions) AS decisions`);
    const n = (k: string): number => Number(r?.[k] ?? 0);
    return { readings: n('readings'), distinct_readings: n('distinct_readings'), parts: n('parts'), alerts: n('alerts'), dead_letters: n('dead_letters'), feedback: n('feedback'), decisions: n('decisions') };
  }

  async prune(opts: { olderThanMs?: number; maxReadings?: number }): Promise<{ deleted: number }> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      let deleted = 0;
      const run = async (sql: string, p: unknown[]): Promise<void> => {
        deleted += (await c.query(sql, p)).rowCount ?? 0;
      };
      if (opts.olderThanMs !== undefined) {
        const t = opts.olderThanMs;
        await run('DELETE FROM readings WHERE ts < $1', [t]);
        await run('DELETE FROM feedback WHERE part_id IN (SELECT part_id FROM parts WHERE ts < $1)', [t]);
        await run('DELETE FROM parts WHERE ts < $1', [t]);
        await run('DELETE FROM decisions WHERE ts < $1', [t]);
        await run('DELETE FROM alerts WHERE ts < $1 AND acknowledged_at IS NOT NULL', [t]);
        await run('DELETE FROM dead_letters WHERE ts < $1', [t]);
        await run('DELETE FROM machine_truth WHERE ts < $1', [t]);
      }
      if (opts.maxReadings) {
        await run('DELETE FROM readings WHERE msg_id IN (SELECT msg_id FROM readings ORDER BY ts DESC OFFSET $1)', [opts.maxReadings]);
      }
      await c.query('COMMIT');
      return { deleted };
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw storeError(e, 'prune');
    } finally {
      c.release();
    }
  }

  /** Re-encrypt in transactions of REENCRYPT_CHUNK rows (row locks held briefly, memory bounded on a large store). */
  async reencryptAll(from: FieldCodec, to: FieldCodec): Promise<{ rows: number }> {
    if (from.keyId === to.keyId) return { rows: 0 };
    let rows = 0;
    for (const t of REENCRYPT_TABLES) {
      for (;;) {
        const c = await this.pool.connect();
        let n: number;
        try {
          await c.query('BEGIN');
          const rs = await c.query(`SELECT ${t.key} AS k, ${t.blob} AS v FROM ${t.table} WHERE key_id = $1${t.where} LIMIT $2 FOR UPDATE`, [from.keyId, REENCRYPT_CHUNK]);
          for (const r of rs.rows as DbRow[]) {
            await c.query(`UPDATE ${t.table} SET ${t.blob} = $1, key_id = $2 WHERE ${t.key} = $3`, [buf(to.encode(from.decode(new Uint8Array(r.v as Uint8Array)))), to.keyId, r.k]);
          }
          await c.query('COMMIT');
          n = rs.rows.length;
        } catch (e) {
          await c.query('ROLLBACK').catch(() => undefined);
          throw storeError(e, 're-encrypt');
        } finally {
          c.release();
        }
        rows += n;
        if (n < REENCRYPT_CHUNK) break;
      }
    }
    return { rows };
  }

  /** Drop the whole schema (tests). */
  async dropSchema(): Promise<void> {
    await this.q('drop schema', `DROP SCHEMA IF EXISTS ${this.schema} CASCADE`);
  }

  async dispose(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
