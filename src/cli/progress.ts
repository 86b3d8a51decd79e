/** A one-line progress bar on stderr, shown only on a terminal (never in pipes, CI or --json). */
export interface Progress {
  tick(extra?: string): void;
  done(): void;
}

export function createProgress(total: number, label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  const enabled = Boolean(stream.isTTY) && !process.env.CI;
  let n = 0;
  let last = 0;
  const start = Date.now();
  const draw = (extra = ''): void => {
    const width = 30;
    const frac = total ? n / total : 1;
    const full = Math.round(frac * width);
    const rate = n / Math.max(0.001, (Date.now() - start) / 1000);
    stream.write(`\r${label} [${'#'.repeat(full)}${'-'.repeat(width - full)}] ${n}/${total} ${rate.toFixed(1)}/s ${extra}\x1b[K`);
  };
  return {
    tick(extra) {
      n++;
      if (!enabled) return;
      const now = Date.now();
      if (now - last > 100 || n === total) {
        last = now;
        draw(extra);
      }
    },
    done() {
      if (enabled) stream.write('\n');
    },
  };
}
