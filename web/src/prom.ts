/**
 * A small pure reader of the Prometheus text exposition format (what `GET /metrics` serves), and
 * the two calculations the models panel needs from it: rates between two scrapes and latency
 * quantiles from histogram buckets, interpolated the way PromQL's histogram_quantile() does.
 */

/** One sample line: metric name, labels, value. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A histogram series: cumulative buckets (ascending `le`, last +Inf), sum and count. */
export interface Histogram {
  readonly labels: Readonly<Record<string, string>>;
  readonly buckets: ReadonlyArray<{ readonly le: number; readonly count: number }>;
  readonly sum: number;
  readonly count: number;
}

function parseValue(s: string): number {
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  return Number(s);
}

/** Parse `{a="x",b="y\"z"}` starting at index i (at '{'); returns labels and the index after '}'. */
function parseLabels(line: string, i: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let p = i + 1;
  while (p < line.length) {
    while (line[p] === ' ' || line[p] === ',') p++;
    if (line[p] === '}') return { labels, end: p + 1 };
    const eq = line.indexOf('=', p);
    if (eq < 0) break;
    const key = line.slice(p, eq).trim();
    p = eq + 1;
    if (line[p] !== '"') break;
    p++;
    let value = '';
    while (p < line.length && line[p] !== '"') {
      const ch = line[p];
      if (ch === '\\') {
        const next = line[p + 1];
        value += next === 'n' ? '\n' : (next ?? '');
        p += 2;
      } else {
        value += ch;
        p++;
      }
    }
    p++;
    labels[key] = value;
  }
  throw new SyntaxError(`malformed labels in metrics line: ${line.slice(0, 120)}`);
}

/** Parse the exposition text into samples. Comment lines (# HELP/# TYPE) are skipped; malformed lines throw. */
export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const brace = line.indexOf('{');
    const space = line.indexOf(' ');
    let name: string;
    let labels: Record<string, string> = {};
    let rest: string;
    if (brace >= 0 && (space < 0 || brace < space)) {
      name = line.slice(0, brace);
      const parsed = parseLabels(line, brace);
      labels = parsed.labels;
      rest = line.slice(parsed.end).trim();
    } else {
      if (space < 0) throw new SyntaxError(`metrics line without a value: ${line.slice(0, 120)}`);
      name = line.slice(0, space);
      rest = line.slice(space + 1).trim();
    }
    const valueText = rest.split(/\s+/)[0] ?? '';
    const value = parseValue(valueText);
    if (valueText === '' || (Number.isNaN(value) && valueText !== 'NaN')) {
      throw new SyntaxError(`metrics line with a bad value: ${line.slice(0, 120)}`);
    }
    out.push({ name, labels, value });
  }
  return out;
}

/** A stable key for a label set, ignoring the given label names. */
export function labelKey(labels: Readonly<Record<string, string>>, ignore: readonly string[] = []): string {
  return Object.keys(labels)
    .filter((k) => !ignore.includes(k))
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(',');
}

/** Group the `<name>_bucket/_sum/_count` samples of one histogram family into series. */
export function histograms(samples: readonly Sample[], name: string): Histogram[] {
  const series = new Map<string, { labels: Record<string, string>; buckets: { le: number; count: number }[]; sum: number; count: number }>();
  const get = (labels: Readonly<Record<string, string>>) => {
    const key = labelKey(labels, ['le']);
    let s = series.get(key);
    if (!s) {
      const own: Record<string, string> = { ...labels };
      delete own.le;
      s = { labels: own, buckets: [], sum: 0, count: 0 };
      series.set(key, s);
    }
    return s;
  };
  for (const x of samples) {
    if (x.name === `${name}_bucket`) {
      const le = x.labels.le;
      if (le !== undefined) get(x.labels).buckets.push({ le: parseValue(le), count: x.value });
    } else if (x.name === `${name}_sum`) get(x.labels).sum = x.value;
    else if (x.name === `${name}_count`) get(x.labels).count = x.value;
  }
  for (const s of series.values()) s.buckets.sort((a, b) => a.le - b.le);
  return [...series.values()];
}

/**
 * The q-quantile (0..1) of a cumulative bucket list, linearly interpolated inside the bucket that
 * holds it, as PromQL's histogram_quantile(): NaN with no observations; the highest finite bound
 * when the quantile falls in the +Inf bucket.
 */
export function histogramQuantile(q: number, buckets: ReadonlyArray<{ le: number; count: number }>): number {
  if (buckets.length === 0) return NaN;
  const last = buckets[buckets.length - 1];
  const total = last ? last.count : 0;
  if (!(total > 0)) return NaN;
  const rank = Math.min(1, Math.max(0, q)) * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of buckets) {
    if (b.count >= rank) {
      if (b.le === Infinity) return prevLe;
      const inBucket = b.count - prevCount;
      if (inBucket <= 0) return b.le;
      return prevLe + (b.le - prevLe) * ((rank - prevCount) / inBucket);
    }
    prevLe = b.le === Infinity ? prevLe : b.le;
    prevCount = b.count;
  }
  return prevLe;
}

/**
 * The observations between two scrapes of the same histogram series (bucket-wise difference).
 * A counter reset (server restart) makes the newer scrape the whole window.
 */
export function histogramDelta(now: Histogram, before: Histogram | undefined): Histogram {
  if (!before || before.count > now.count) return now;
  const prev = new Map(before.buckets.map((b) => [b.le, b.count] as const));
  return {
    labels: now.labels,
    buckets: now.buckets.map((b) => ({ le: b.le, count: Math.max(0, b.count - (prev.get(b.le) ?? 0)) })),
    sum: now.sum - before.sum,
    count: now.count - before.count,
  };
}

/** Per-second rate of a counter between two readings; a reset counts from zero. */
export function counterRate(now: number, before: number | undefined, seconds: number): number {
  if (before === undefined || !(seconds > 0)) return NaN;
  const delta = now >= before ? now - before : now;
  return delta / seconds;
}
