import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { failureModes, SensorGenerator, synthSensorTable, AI4I_COLUMNS } from '../../src/data/synth/sensors.ts';
import { synthImage, writeSynthImages, SYNTH_CLASSES } from '../../src/data/synth/images.ts';
import { createRng } from '../../src/training/rng.ts';
import { readImageFolder } from '../../src/data/readers/image-folder.ts';

const nominal = { air_temperature_k: 300, process_temperature_k: 310, rotational_speed_rpm: 1500, torque_nm: 40, tool_wear_min: 100 };

describe('synthetic sensor data', () => {
  it('applies the five AI4I failure rules', () => {
    expect(failureModes('L', nominal, 220, false)).toEqual({ TWF: false, HDF: false, PWF: false, OSF: false, RNF: false });
    expect(failureModes('L', { ...nominal, tool_wear_min: 221 }, 220, false).TWF).toBe(true);
    expect(failureModes('L', { ...nominal, process_temperature_k: 308.5, rotational_speed_rpm: 1370 }, 220, false).HDF).toBe(true);
    expect(failureModes('L', { ...nominal, process_temperature_k: 308.5, rotational_speed_rpm: 1390 }, 220, false).HDF).toBe(false);
    // power = 40 Nm * 2π·700/60 = 2932 W < 3500 W
    expect(failureModes('L', { ...nominal, rotational_speed_rpm: 700 }, 220, false).PWF).toBe(true);
    expect(failureModes('M', { ...nominal, torque_nm: 65, rotational_speed_rpm: 1400 }, 220, false).PWF).toBe(true);
    // overstrain: 200 min * 60 Nm = 12,000: over L's 11,000, not over H's 13,000
    expect(failureModes('L', { ...nominal, tool_wear_min: 200, torque_nm: 60 }, 230, false).OSF).toBe(true);
    expect(failureModes('H', { ...nominal, tool_wear_min: 200, torque_nm: 60 }, 230, false).OSF).toBe(false);
    expect(failureModes('L', nominal, 220, true).RNF).toBe(true);
  });

  it('is reproducible per seed, in the AI4I layout, with a plausible failure rate and every mode present', () => {
    const a = synthSensorTable(5000, 3);
    expect(synthSensorTable(5000, 3)).toEqual(a);
    expect(synthSensorTable(50, 4)).not.toEqual(a.slice(0, 50));
    expect(a[0]!.length).toBe(AI4I_COLUMNS.length);
    const rate = a.filter((r) => r[8] === 1).length / a.length;
    expect(rate).toBeGreaterThan(0.01);
    expect(rate).toBeLessThan(0.08);
    for (const c of [9, 10, 11, 12]) expect(a.some((r) => r[c] === 1)).toBe(true);
    for (const r of a) {
      expect(r[3]).toBeGreaterThanOrEqual(295.3);
      expect(r[4]).toBeLessThanOrEqual(313.8);
      expect(r[8]).toBe(Number([9, 10, 11, 12, 13].some((c) => r[c] === 1)));
    }
  });

  it('wears the tool and replaces it', () => {
    const g = new SensorGenerator({ seed: 1, type: 'H' });
    const wear = Array.from({ length: 100 }, () => g.next().values.tool_wear_min);
    expect(Math.max(...wear)).toBeLessThanOrEqual(245);
    expect(wear.some((w, i) => i > 0 && w < wear[i - 1]!)).toBe(true);
  });
});

describe('synthetic defect images', () => {
  it('draws classes that differ from a clean surface, reproducibly', () => {
    const mean = (d: Uint8Array): number => d.reduce((a, v) => a + v, 0) / d.length;
    const clean = synthImage('clean', createRng(1), 64, 64);
    expect(synthImage('clean', createRng(1), 64, 64).data).toEqual(clean.data);
    const dark = synthImage('patches', createRng(1), 64, 64);
    expect(mean(dark.data)).toBeLessThan(mean(clean.data));
  });

  it('writes the folder-per-class layout as decodable PNG and JPEG', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ls-synth-'));
    try {
      const files = await writeSynthImages(dir, { perClass: 2, seed: 5, size: 48 });
      expect(files.length).toBe(2 * SYNTH_CLASSES.length);
      const listed = await readImageFolder(dir);
      expect(new Set(listed.map((f) => f.label))).toEqual(new Set(SYNTH_CLASSES));
      const meta = await sharp(files[0]!).metadata();
      expect(meta).toMatchObject({ format: 'png', width: 48, height: 48 });
      const jpg = await writeSynthImages(path.join(dir, 'j'), { perClass: 1, seed: 5, size: 32, format: 'jpeg', classes: ['spots'] });
      expect((await sharp(jpg[0]!).metadata()).format).toBe('jpeg');
      await expect(writeSynthImages(dir, { perClass: 1, classes: ['bogus' as never] })).rejects.toMatchObject({ code: 'LS_ERR_VALIDATION' });
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
