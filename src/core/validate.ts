/** Schema validation at the boundaries: one helper so every error reads the same way. */
import type { z } from 'zod';
import { LsError, type ErrorCode } from './errors.ts';

/** `field.path: what was expected` for each issue, joined by `; `. */
export function formatZodIssues(err: z.ZodError): string {
  return err.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

/** Parse with a schema or throw an LsError with the given code; the result is frozen. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, code: ErrorCode = 'LS_ERR_VALIDATION', subject?: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new LsError(code, formatZodIssues(r.error), { subject });
  return Object.freeze(r.data) as z.infer<S>;
}
