import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERRORS, LsError } from '../../src/core/errors.ts';

describe('error catalogue', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const rows = new Map(
    [...doc.matchAll(/^\| (LS_ERR_[A-Z0-9_]+) \| (\d{3}) \| (.+) \|$/gm)].map((m) => [m[1]!, { status: Number(m[2]), message: m[3]! }]),
  );

  it('documents every code with its status and message', () => {
    for (const [code, spec] of Object.entries(ERRORS)) {
      expect(rows.get(code), code).toEqual({ status: spec.status, message: spec.message });
    }
  });

  it('documents no code that does not exist', () => {
    for (const code of rows.keys()) expect(Object.keys(ERRORS)).toContain(code);
  });

  it('formats one line with code, message and subject', () => {
    const e = new LsError('LS_ERR_IMAGE_CORRUPT', 'premature end of JPEG', { subject: 'a.jpg' });
    expect(e.toLine()).toBe('LS_ERR_IMAGE_CORRUPT: the image cannot be decoded: it is corrupt or truncated: premature end of JPEG (a.jpg)');
    expect(e.status).toBe(400);
  });
});
