/** Shared helpers for the security tests: temp folders and a fake clock. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Clock } from '../../src/core/clock.ts';

/** A temp folder removed by the returned cleanup. */
export function tempDir(prefix = 'ls-sec-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A clock tests move by hand. */
export function fakeClock(start = Date.UTC(2026, 0, 1)): Clock & { advance(ms: number): void } {
  let t = start;
  return {
    now: () => t,
    hrNow: () => t,
    setTimeout: () => 0,
    clearTimeout: () => undefined,
    advance(ms: number) {
      t += ms;
    },
  };
}
