import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { AuditLog, verifyAuditLog } from '../../src/security/audit.ts';
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
