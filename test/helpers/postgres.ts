/**
 * The machine's PostgreSQL for tests: its URL, and whether it answers. In CI (CI=true) a missing
 * server is an error, never a silent skip; elsewhere the caller skips with the printed reason.
 */
import pg from 'pg';

export const PG_URL = process.env.LINESIGHT_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

/** True when PostgreSQL answers; throws in CI when it does not. */
export async function requirePostgres(): Promise<boolean> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.end();
    return true;
  } catch {
    if (process.env.CI) throw new Error(`PostgreSQL is required in CI but not reachable at ${PG_URL}`);
    return false;
  }
}
