/** The security commands as a user runs them (child processes, each test in its own folder so they run concurrently). */
import { afterAll, describe, expect, it } from 'vitest';
import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../e2e/cli-run.ts';
import { writeTinyRepo } from '../helpers/tiny-model.ts';
import { tempDir } from './helpers.ts';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const data = path.join(tmp.dir, 'data');

describe('linesight tokens / audit', () => {
  it.concurrent('creates a token shown once, lists without secrets, revokes, and the audit chain verifies until edited', async () => {
    const c = await runCli(['tokens', 'create', '--role', 'engineer', '--lines', 'lineA', '--name', 'eng1', '--data', data]);
    expect(c.code, c.stderr).toBe(0);
    const token = c.stdout.trim();
    expect(token).toMatch(/^lst_[a-f0-9]{12}_/);
    expect(statSync(path.join(data, 'tokens.json')).mode & 0o777).toBe(0o600);
    const l = await runCli(['tokens', 'list', '--data', data, '--json']);
    expect(l.stdout).not.toContain(token.slice(17));
    const [info] = JSON.parse(l.stdout) as Array<{ id: string; role: string; lines: string[] }>;
    expect(info).toMatchObject({ role: 'engineer', lines: ['lineA'] });
    expect((await runCli(['tokens', 'revoke', info!.id, '--data', data])).code).toBe(0);

    const v = await runCli(['audit', 'verify', '--data', data]);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/^OK: 2 entries/);
    const log = path.join(data, 'audit.log');
    writeFileSync(log, readFileSync(log, 'utf8').replace('"engineer"', '"admin"'));
    const t = await runCli(['audit', 'verify', '--file', log]);
    expect(t.code).toBe(2);
    expect(t.stdout).toMatch(/TAMPERED: .* line 1 \(seq 1\): content does not match its hash/);
    // with a broken audit chain no audited action happens at all
    const blocked = await runCli(['tokens', 'create', '--role', 'admin', '--data', data]);
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toMatch(/^LS_ERR_AUDIT_TAMPERED/m);
    expect(JSON.parse(readFileSync(path.join(data, 'tokens.json'), 'utf8')).tokens).toHaveLength(1);
  });
});

describe('linesight models sign / verify', () => {
  it.concurrent('signs, verifies, refuses a tampered model with exit 1, and leaves the plain listing unchanged', async () => {
    const repo = writeTinyRepo(path.join(tmp.dir, 'models'));
    const key = path.join(tmp.dir, 'keys', 'release.pem');
    expect((await runCli(['models', 'keygen', '--key', key])).code).toBe(0);
    const s = await runCli(['models', 'sign', '-m', 'tiny', '--key', key, '--repo', repo]);
    expect(s.code, s.stderr).toBe(0);
    expect(readFileSync(path.join(repo, 'tiny', '1', 'signature.json'), 'utf8')).toContain('ed25519');
    expect((await runCli(['models', 'verify', '-m', 'tiny:1', '--trusted-key', `${key}.pub`, '--repo', repo])).stdout).toMatch(/^OK: tiny:1/);
    appendFileSync(path.join(repo, 'tiny', '1', 'model.onnx'), 'x');
    const t = await runCli(['models', 'verify', '-m', 'tiny:1', '--trusted-key', `${key}.pub`, '--repo', repo]);
    expect(t.code).toBe(1);
    expect(t.stderr).toMatch(/^LS_ERR_MODEL_SIGNATURE: .*model\.onnx differs/m);
    // `linesight models` still lists models as before the subcommands existed
    const after = await runCli(['models', '--repo', repo]);
    expect(after.stdout.split('\n')[0]).toBe('tiny  task=classification  versions=1');
  });
});

describe('linesight keys', () => {
  it.concurrent('generates a key once (mode 0600) and refuses to overwrite it', async () => {
    const data = path.join(tmp.dir, 'keys-data');
    const g = await runCli(['keys', 'generate', '--data', data]);
    expect(g.code, g.stderr).toBe(0);
    expect(statSync(path.join(data, 'data.key')).mode & 0o777).toBe(0o600);
    const again = await runCli(['keys', 'generate', '--data', data]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^LS_ERR_SECURITY_CONFIG: .*keys rotate/m);
  });
});
