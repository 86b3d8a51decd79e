/** Schema migrations of the PostgreSQL store, applied in order; `linesight_schema_version` records them. */
export const POSTGRES_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE readings (
    msg_id TEXT PRIMARY KEY,
    line TEXT NOT NULL,
    machine TEXT NOT NULL,
    ts BIGINT NOT NULL,
    type TEXT,
    key_id TEXT NOT NULL,
    vals BYTEA NOT NULL,
    model TEXT,
    version INTEGER,
    probability DOUBLE PRECISION,
    decision TEXT,
    latency_ms DOUBLE PRECISION
  );
  CREATE INDEX readings_machine_ts ON readings (machine, ts);
  CREATE INDEX readings_ts ON readings (ts);
  CREATE TABLE parts (
    part_id TEXT PRIMARY KEY,
    msg_id TEXT NOT NULL UNIQUE,
    line TEXT NOT NULL,
    station TEXT NOT NULL,
    ts BIGINT NOT NULL,
    model TEXT NOT NULL,
    version INTEGER NOT NULL,
    label TEXT NOT NULL,
    probability DOUBLE PRECISION NOT NULL,
    outputs TEXT NOT NULL,
    decision TEXT NOT NULL,
    reason TEXT NOT NULL,
    latency_ms DOUBLE PRECISION NOT NULL,
    content_type TEXT,
    key_id TEXT,
    image BYTEA
  );
  CREATE INDEX parts_station_ts ON parts (station, ts);
  CREATE INDEX parts_ts ON parts (ts);
  CREATE TABLE decisions (
    id BIGSERIAL PRIMARY KEY,
    ts BIGINT NOT NULL,
    line TEXT NOT NULL,
    source TEXT NOT NULL,
    part_id TEXT,
    decision TEXT NOT NULL,
    reason TEXT NOT NULL
  );
  CREATE INDEX decisions_ts ON decisions (ts);
  CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    ts BIGINT NOT NULL,
    line TEXT NOT NULL,
    source TEXT NOT NULL,
    severity TEXT NOT NULL,
    message TEXT NOT NULL,
    probability DOUBLE PRECISION,
    contributions TEXT,
    acknowledged_by TEXT,
    acknowledged_at BIGINT
  );
  CREATE INDEX alerts_ts ON alerts (ts);
  CREATE TABLE feedback (
    part_id TEXT PRIMARY KEY,
    true_label TEXT NOT NULL,
    by TEXT NOT NULL,
    ts BIGINT NOT NULL
  );
  CREATE TABLE dead_letters (
    id BIGSERIAL PRIMARY KEY,
    ts BIGINT NOT NULL,
    topic TEXT NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    payload BYTEA NOT NULL
  );
  CREATE INDEX dead_letters_ts ON dead_letters (ts);
  `,
  // 2: ground truth of machine readings (predictive maintenance), the counterpart of feedback for parts
  `
  CREATE TABLE machine_truth (
    reading_msg_id TEXT PRIMARY KEY,
    line TEXT NOT NULL,
    machine TEXT NOT NULL,
    failure BOOLEAN NOT NULL,
    modes TEXT,
    by TEXT NOT NULL,
    ts BIGINT NOT NULL
  );
  CREATE INDEX machine_truth_ts ON machine_truth (ts);
  `,
];
