/** Every resource in LineSight can be released; shutdown calls dispose() on all of them. */
export interface Disposable {
  dispose(): Promise<void>;
}

/** Dispose several resources in reverse order of creation, collecting errors. */
export async function disposeAll(items: Array<Disposable | undefined | null>): Promise<void> {
  const errors: unknown[] = [];
  for (const item of [...items].reverse()) {
    if (!item) continue;
    try {
      await item.dispose();
    } catch (e) {
      errors.push(e);
    }
  }
  if (errors.length) throw new AggregateError(errors, 'some resources failed to close');
}
