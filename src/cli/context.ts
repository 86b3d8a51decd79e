/** What every CLI command shares: opening the repository, loading a model, reporting errors. */
import { isLsError, toLsError } from '../core/errors.ts';
import { ModelRepository, parseModelRef } from '../repository/repository.ts';
import { getBackend } from '../runtime/index.ts';
import { LoadedModel } from '../pipeline/model.ts';

export const DEFAULT_REPO = './models';

export interface ModelOptions {
  repo: string;
  model: string;
}

/** Open the repository and load `-m NAME[:VERSION]`; provider fallbacks are reported on stderr. */
export async function openModel(opts: ModelOptions): Promise<LoadedModel> {
  const repo = await ModelRepository.open(opts.repo);
  const resolved = await repo.resolve(parseModelRef(opts.model));
  const backend = await getBackend();
  return LoadedModel.load(resolved, backend, {
    onProviderFallback: (p, why) => process.stderr.write(`warning: execution provider "${p}" unavailable (${why}); using the next one\n`),
  });
}

/** Print one clear line for an error (never a stack trace for known errors) and set the exit code. */
export function reportError(e: unknown): void {
  const err = isLsError(e) ? e : toLsError(e);
  process.stderr.write(`${err.toLine()}\n`);
  if (!isLsError(e) && process.env.LINESIGHT_DEBUG) process.stderr.write(`${(e as Error)?.stack ?? ''}\n`);
  process.exitCode = 1;
}

/** Wrap a command action so errors print as one line and the exit code is non-zero. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      reportError(e);
    }
  };
}

export function pct(p: number | undefined): string {
  return p === undefined ? '-' : `${(p * 100).toFixed(1)}%`;
}
