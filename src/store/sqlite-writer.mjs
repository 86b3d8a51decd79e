// The writer thread of SqliteStore ({ writer: 'worker' }): commits write batches on its own
// connection so an fsync does not stall the main event loop. Plain JavaScript because worker
// threads do not inherit the TypeScript loader the CLI registers on the main thread.
// Input: { id, batch: { reading|part|decision|alert|dead|feedback|machineTruth: params[][] } } or { close: true }.
// Output: { id, result: { readings, parts } } or { id, error }.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const db = new Database(workerData.file);
db.pragma('journal_mode = WAL');
db.pragma(`synchronous = ${workerData.synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'}`);
db.pragma('busy_timeout = 5000');
const st = Object.fromEntries(Object.entries(workerData.sql).map(([k, q]) => [k, db.prepare(q)]));

const tx = db.transaction((b) => {
  let readings = 0;
  let parts = 0;
  for (const r of b.reading) readings += st.reading.run(...r).changes;
  for (const r of b.part) parts += st.part.run(...r).changes;
  for (const r of b.decision) st.decision.run(...r);
  for (const r of b.alert) st.alert.run(...r);
  for (const r of b.dead) st.dead.run(...r);
  for (const r of b.feedback) st.feedback.run(...r);
  for (const r of b.machineTruth) st.machineTruth.run(...r);
  return { readings, parts };
});

parentPort.on('message', (m) => {
  if (m.close) {
    db.close();
    parentPort.close();
    return;
  }
  try {
    parentPort.postMessage({ id: m.id, result: tx(m.batch) });
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: e instanceof Error ? e.message : String(e) });
  }
});
