/** Open the store a `--db` option names: a SQLite file path (default) or a postgres:// URL. */
import type { FieldCodec } from './codec.ts';
import { PostgresStore } from './postgres.ts';
import { SqliteStore } from './sqlite.ts';
import type { Store } from './store.ts';

export async function openStore(db: string, opts: { codec?: FieldCodec; schema?: string; synchronous?: 'FULL' | 'NORMAL'; writer?: 'inline' | 'worker' } = {}): Promise<Store> {
  if (/^postgres(ql)?:\/\//.test(db)) {
    const url = new URL(db);
    const schema = opts.schema ?? url.searchParams.get('schema') ?? undefined;
    url.searchParams.delete('schema');
    return PostgresStore.open({ url: url.toString(), ...(schema ? { schema } : {}), ...(opts.codec ? { codec: opts.codec } : {}) });
  }
  return new SqliteStore({ file: db, ...(opts.codec ? { codec: opts.codec } : {}), ...(opts.synchronous ? { synchronous: opts.synchronous } : {}), ...(opts.writer ? { writer: opts.writer } : {}) });
}
