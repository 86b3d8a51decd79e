import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { writeTinyRepo } from '../helpers/tiny-model.ts';

const run = promisify(execFile);
const bin = path.resolve('bin/linesight.mjs');
const fixtures = path.resolve('test/fixtures');

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { env: { ...process.env, CI: 'true' } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

describe('linesight CLI on the bundled steel-surface model', () => {
  it('lists the bundled models with versions, inputs, outputs and task', async () => {
    const r = await cli(['models', '--json']);
    expect(r.code).toBe(0);
    const models = JSON.parse(r.stdout) as Array<{ name: string; task: string; versions: number[]; inputs: Array<{ name: string; shape: number[] }> }>;
    const steel = models.find((m) => m.name === 'steel-surface')!;
    expect(steel.task).toBe('classification');
    expect(steel.versions).toContain(1);
    expect(steel.inputs[0]).toMatchObject({ name: 'image', datatype: 'FP32', shape: [-1, 1, 224, 224] });
    const text = await cli(['models']);
    expect(text.stdout).toContain('steel-surface  task=classification');
  });

  it('predicts label, top-3 and decision per image, and goes on past bad files', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ls-cli-'));
    const empty = path.join(dir, 'empty.jpg');
    writeFileSync(empty, '');
    const truncated = path.join(dir, 'truncated.jpg');
    const { readFileSync } = await import('node:fs');
    writeFileSync(truncated, readFileSync(path.join(fixtures, 'neu/scratches_1.jpg')).subarray(0, 3000));
    const r = await cli(['predict', '-m', 'steel-surface:1', '--json', path.join(fixtures, 'neu/scratches_1.jpg'), empty, truncated, path.join(fixtures, 'neu/inclusion_2.jpg')]);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatchObject({ label: 'scratches', decision: 'REJECT', model: 'steel-surface', version: 1 });
    expect((lines[0]!.top as unknown[]).length).toBe(3);
    expect(lines[1]).toMatchObject({ code: 'LS_ERR_IMAGE_EMPTY' });
    expect(lines[2]).toMatchObject({ code: 'LS_ERR_IMAGE_CORRUPT' });
    expect(lines[3]).toMatchObject({ label: 'inclusion' });
    expect(r.stderr).toContain('LS_ERR_IMAGE_EMPTY');
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack traces
  });

  it('evaluates a folder-per-class data set against its true labels', async () => {
    const r = await cli(['eval', '-m', 'steel-surface', '--json', path.resolve('samples/neu')]);
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.stdout) as { accuracy: number; total: number; per_class: Record<string, { f1: number; support: number }>; confusion: number[][] };
    expect(rep.total).toBe(30);
    expect(rep.accuracy).toBeGreaterThan(0.9);
    expect(Object.keys(rep.per_class)).toHaveLength(6);
    expect(rep.confusion.flat().reduce((a, b) => a + b, 0)).toBe(30);
    // The committed samples all come from the test split: the split filter keeps all 30, the train list none.
    const split = JSON.parse((await cli(['eval', '-m', 'steel-surface', '--json', '--split', 'tools/train/split.json', '--subset', 'test', path.resolve('samples/neu')])).stdout) as { total: number };
    expect(split.total).toBe(30);
    const none = await cli(['eval', '-m', 'steel-surface', '--split', 'tools/train/split.json', '--subset', 'train', path.resolve('samples/neu')]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^LS_ERR_DATASET: /);
    const text = await cli(['eval', '-m', 'steel-surface', path.resolve('samples/neu')]);
    expect(text.stdout).toMatch(/accuracy \d+\.\d%/);
    expect(text.stdout).toContain('confusion matrix');
  });
});

describe('linesight CLI errors: one clear line, non-zero exit', () => {
  const repo = writeTinyRepo(mkdtempSync(path.join(tmpdir(), 'ls-cli-repo-')));

  it('model not found', async () => {
    const r = await cli(['predict', '-m', 'nope', '--repo', repo, path.join(fixtures, 'neu/scratches_1.jpg')]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^LS_ERR_MODEL_NOT_FOUND: /);
  });

  it('unsupported format and missing file', async () => {
    const r = await cli(['predict', '-m', 'tiny', '--repo', repo, path.resolve('package.json'), '/no/such/file.png']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('LS_ERR_IMAGE_FORMAT');
    expect(r.stderr).toContain('LS_ERR_FILE_NOT_FOUND');
    expect(r.stderr).toContain('/no/such/file.png');
  });

  it('corrupt ONNX file and invalid config.yaml', async () => {
    const bad = writeTinyRepo(mkdtempSync(path.join(tmpdir(), 'ls-cli-bad-')));
    writeFileSync(path.join(bad, 'tiny', '1', 'model.onnx'), 'garbage');
    const r = await cli(['predict', '-m', 'tiny', '--repo', bad, path.join(fixtures, 'neu/scratches_1.jpg')]);
    expect(r.stderr).toMatch(/^LS_ERR_MODEL_CORRUPT: .*model\.onnx\)$/m);
    writeFileSync(path.join(bad, 'tiny', 'config.yaml'), 'name: tiny\ntask: guessing\n');
    const r2 = await cli(['predict', '-m', 'tiny', '--repo', bad, path.join(fixtures, 'neu/scratches_1.jpg')]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/^LS_ERR_CONFIG_INVALID: .*task.*config\.yaml\)$/m);
  });

  it('ONNX that disagrees with config.yaml', async () => {
    const bad = writeTinyRepo(mkdtempSync(path.join(tmpdir(), 'ls-cli-mm-')), { config: { outputs: [{ name: 'scores', datatype: 'FP32', shape: [3] }] } });
    const r = await cli(['predict', '-m', 'tiny', '--repo', bad, path.join(fixtures, 'neu/scratches_1.jpg')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^LS_ERR_MODEL_MISMATCH: .*"scores"/m);
  });
});
