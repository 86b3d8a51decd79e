import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AuditLog, segmentFiles, verifyAuditLog } from '../../src/security/audit.ts';
import { fakeClock, tempDir } from './helpers.ts';

describe('audit log: tampering is detected and named', () => {
  let tmp: ReturnType<typeof tempDir>;
  let file: string;
  beforeEach(async () => {
    tmp = tempDir();
    file = path.join(tmp.dir, 'audit.log');
    const log = await AuditLog.open(file, { clock: fakeClock() });
    for (let i = 1; i <= 5; i++) await log.append({ actor: `user${i}`, action: 'alert.ack', target: `alert:${i}`, details: { n: i } });
    await log.dispose();
  });
  afterEach(() => tmp.cleanup());

  const lines = () => readFileSync(file, 'utf8').trimEnd().split('\n');
  const write = (ls: string[]) => writeFileSync(file, `${ls.join('\n')}\n`);

  it('an untouched log verifies', async () => {
    const r = await verifyAuditLog(file);
    expect(r).toMatchObject({ ok: true, entries: 5 });
  });

  it('an edited entry is named (line 3)', async () => {
    const ls = lines();
    ls[2] = ls[2]!.replace('"user3"', '"mallory"');
    write(ls);
    expect(await verifyAuditLog(file)).toMatchObject({ ok: false, line: 3, seq: 3, reason: expect.stringMatching(/edited/) });
  });

  it('an edited entry with a recomputed own hash still breaks the chain at the next entry', async () => {
    const { entryHash } = await import('../../src/security/audit.ts');
    const ls = lines();
    const e = JSON.parse(ls[1]!);
    e.actor = 'mallory';
    const { hash: _h, ...body } = e;
    e.hash = entryHash(body);
    ls[1] = JSON.stringify(e);
    write(ls);
    expect(await verifyAuditLog(file)).toMatchObject({ ok: false, line: 3, seq: 3 });
  });

  it('a removed entry is named (the one after the gap)', async () => {
    const ls = lines();
    ls.splice(1, 1);
    write(ls);
    expect(await verifyAuditLog(file)).toMatchObject({ ok: false, line: 2, seq: 3 });
  });

  it('reordered entries are named', async () => {
    const ls = lines();
    [ls[3], ls[4]] = [ls[4]!, ls[3]!];
    write(ls);
    expect(await verifyAuditLog(file)).toMatchObject({ ok: false, line: 4, seq: 5 });
  });

  it('entries cut off the end are detected through the head file', async () => {
    write(lines().slice(0, 3));
    const r = await verifyAuditLog(file);
    expect(r).toMatchObject({ ok: false, line: 4, seq: 4, reason: expect.stringMatching(/removed from the end/) });
  });

  it('a deleted head file is reported', async () => {
    rmSync(`${file}.head`);
    expect(await verifyAuditLog(file)).toMatchObject({ ok: false, reason: expect.stringMatching(/head file is missing/) });
  });

  it('refuses to extend a broken chain', async () => {
    const ls = lines();
    ls[0] = ls[0]!.replace('alert:1', 'alert:9');
    write(ls);
    await expect(AuditLog.open(file)).rejects.toMatchObject({ code: 'LS_ERR_AUDIT_TAMPERED', message: expect.stringMatching(/line 1/) });
  });

  it('a reopened log continues the chain; concurrent appends keep order and all land', async () => {
    const log = await AuditLog.open(file);
    await Promise.all(Array.from({ length: 20 }, (_, i) => log.append({ actor: 'x', action: 'qa.label', target: `part:${i}` })));
    expect(await log.verify()).toMatchObject({ ok: true, entries: 25 });
    const newest = await log.list({ limit: 3 });
    expect(newest.map((e) => e.seq)).toEqual([25, 24, 23]);
    expect((await log.list({ actor: 'user2' })).map((e) => e.target)).toEqual(['alert:2']);
    await log.dispose();
    await expect(log.append({ actor: 'x', action: 'y', target: 'z' })).rejects.toMatchObject({ code: 'LS_ERR_SHUTTING_DOWN' });
  });

  it('the server and the CLI appending to the same log at once keep one intact chain', async () => {
    const server = await AuditLog.open(file);
    const cli = await AuditLog.open(file);
    await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 3 ? server : cli).append({ actor: i % 3 ? 'server' : 'cli', action: 'x', target: String(i) })));
    expect(await verifyAuditLog(file)).toMatchObject({ ok: true, entries: 35 });
    await server.dispose();
    await cli.dispose();
  });

  it('a crash between entry and head write (head one behind) is not reported as tampering', async () => {
    const log = await AuditLog.open(file);
    const head = readFileSync(`${file}.head`, 'utf8');
    await log.append({ actor: 'x', action: 'y', target: 'z' });
    writeFileSync(`${file}.head`, head);
    expect(await verifyAuditLog(file)).toMatchObject({ ok: true, entries: 6 });
  });

  it('refuses invalid entries without writing', async () => {
    const log = await AuditLog.open(file);
    await expect(log.append({ actor: '', action: 'x', target: 'y' })).rejects.toThrow();
    expect(await log.verify()).toMatchObject({ ok: true, entries: 5 });
  });
});

describe('audit log rotation: numbered segments, one chain', () => {
  let tmp: ReturnType<typeof tempDir>;
  let file: string;
  beforeEach(() => {
    tmp = tempDir();
    file = path.join(tmp.dir, 'audit.log');
  });
  afterEach(() => tmp.cleanup());

  /** 60 entries with rotation at ~2 KB: several segments, each under 2 KB plus one entry. */
  async function rotated(): Promise<string[]> {
    const log = await AuditLog.open(file, { clock: fakeClock(), maxBytes: 2048 });
    for (let i = 1; i <= 60; i++) await log.append({ actor: `user${i % 4}`, action: i % 2 ? 'qa.label' : 'alert.ack', target: `part:${i}` });
    await log.dispose();
    return segmentFiles(file);
  }

  it('rotates at the size limit and keeps the active file bounded; the chain verifies across segments', async () => {
    const segments = await rotated();
    expect(segments.length).toBeGreaterThanOrEqual(3);
    expect(segments.map((s) => path.basename(s))).toEqual(segments.map((_, k) => `audit.log.${k + 1}`));
    const entrySize = readFileSync(file, 'utf8').split('\n')[0]!.length + 1;
    for (const s of segments) expect(statSync(s).size).toBeLessThan(2048 + entrySize);
    expect(statSync(file).size).toBeLessThan(2048 + entrySize);
    expect(await verifyAuditLog(file)).toMatchObject({ ok: true, entries: 60, segments: segments.length });
    // each file goes on where the previous one stopped
    const firstOf = (f: string) => JSON.parse(readFileSync(f, 'utf8').split('\n')[0]!) as { seq: number };
    const lastOf = (f: string) => JSON.parse(readFileSync(f, 'utf8').trimEnd().split('\n').at(-1)!) as { seq: number };
    for (const [a, b] of [...segments, file].slice(1).map((f, k) => [[...segments, file][k]!, f] as const)) expect(firstOf(b).seq).toBe(lastOf(a).seq + 1);
  });

  it('lists newest first across segments, and a reopened log continues the chain', async () => {
    await rotated();
    const log = await AuditLog.open(file, { maxBytes: 2048 });
    expect((await log.list({ limit: 50 })).map((e) => e.seq)).toEqual(Array.from({ length: 50 }, (_, k) => 60 - k));
    expect((await log.list({ actor: 'user1', limit: 1000 })).map((e) => e.target)).toEqual(Array.from({ length: 15 }, (_, k) => `part:${57 - 4 * k}`));
    expect((await log.list({ after: 55 })).map((e) => e.seq)).toEqual([60, 59, 58, 57, 56]);
    await log.append({ actor: 'x', action: 'y', target: 'z' });
    await log.dispose();
    expect(await verifyAuditLog(file)).toMatchObject({ ok: true, entries: 61 });
  });

  it('an edited entry in an old segment is named with its file and line', async () => {
    const segments = await rotated();
    const ls = readFileSync(segments[1]!, 'utf8').trimEnd().split('\n');
    ls[2] = ls[2]!.replace(/"actor":"user\d"/, '"actor":"mallory"');
    writeFileSync(segments[1]!, `${ls.join('\n')}\n`);
    const r = await verifyAuditLog(file);
    expect(r).toMatchObject({ ok: false, file: segments[1], line: 3, reason: expect.stringMatching(/edited/) });
    await expect(AuditLog.open(file)).rejects.toMatchObject({ code: 'LS_ERR_AUDIT_TAMPERED', message: expect.stringMatching(/audit\.log\.2 entry at line 3/) });
  });

  it('a removed, emptied or renumbered segment is reported', async () => {
    const segments = await rotated();
    const keep = readFileSync(segments[0]!);
    rmSync(segments[0]!);
    expect(await verifyAuditLog(file)).toMatchObject({ ok: false, reason: expect.stringMatching(/segment audit\.log\.1 is missing/) });
    writeFileSync(segments[0]!, '');
    expect(await verifyAuditLog(file)).toMatchObject({ ok: false, file: segments[0], reason: expect.stringMatching(/empty/) });
    writeFileSync(segments[0]!, keep);
    // the middle segment dropped and the later ones renumbered to hide the gap: the chain breaks
    const last = segments.at(-1)!;
    rmSync(segments[1]!);
    for (let k = 2; k < segments.length; k++) renameSync(segments[k]!, segments[k - 1]!);
    expect(last).not.toBe(segments[1]);
    expect(await verifyAuditLog(file)).toMatchObject({ ok: false, file: segments[1], line: 1, reason: expect.stringMatching(/does not chain/) });
  });

  it('the active file deleted after a rotation is caught by the head', async () => {
    await rotated();
    rmSync(file);
    expect(await verifyAuditLog(file)).toMatchObject({ ok: false, reason: expect.stringMatching(/removed from the end/) });
  });

  it('maxBytes 0 never rotates', async () => {
    const log = await AuditLog.open(file, { maxBytes: 0 });
    for (let i = 0; i < 40; i++) await log.append({ actor: 'a', action: 'b', target: `c${i}` });
    await log.dispose();
    expect(await segmentFiles(file)).toEqual([]);
    expect(await verifyAuditLog(file)).toMatchObject({ ok: true, entries: 40, segments: 0 });
  });
});
