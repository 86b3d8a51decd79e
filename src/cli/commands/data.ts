/**
 * `linesight data synth ...` (seeded synthetic sensor tables and defect images) and
 * `linesight data clean PATH` (duplicates, missing values, out-of-range values, suspected label errors;
 * `--fix --out` writes a cleaned copy and never touches the original).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import YAML from 'yaml';
import { z } from 'zod';
import { action, DEFAULT_REPO, openModel } from '../context.ts';
import { parseWith } from '../../core/validate.ts';
import { LsError } from '../../core/errors.ts';
import { formatCsv, readCsv } from '../../data/readers/csv.ts';
import { readImageFolder } from '../../data/readers/image-folder.ts';
import { AI4I_COLUMNS, synthSensorTable } from '../../data/synth/sensors.ts';
import { SYNTH_CLASSES, writeSynthImages, type SynthClass } from '../../data/synth/images.ts';
import { findImageDuplicates } from '../../data/clean/duplicates.ts';
import { IMPUTE_STRATEGIES } from '../../data/clean/missing.ts';
import { rangeSchemaSchema, schemaFromFeatures, type RangeSchema } from '../../data/clean/range.ts';
import { embeddingLabelIssues } from '../../data/clean/label-errors.ts';
import { cleanTable, writeCleanImageFolder, writeCleanTable, type ImageCleanReport, type TableCleanReport } from '../../data/clean/report.ts';
import { extractEmbeddings } from '../../training/embeddings.ts';
import { DEFAULT_TRAIN_OPTIONS } from '../../training/trainer.ts';
import { FINETUNE_DEFAULTS } from '../../training/finetune.ts';
import { parseDerived } from '../../training/preprocessing.ts';
import { ModelRepository, parseModelRef } from '../../repository/repository.ts';

const list = (s: string): string[] => s.split(',').map((x) => x.trim()).filter(Boolean);

const sensorsSchema = z.object({ rows: z.coerce.number().int().min(1).max(10_000_000).default(10000), seed: z.coerce.number().int().default(1), out: z.string().min(1) });
const imagesSchema = z.object({
  out: z.string().min(1),
  perClass: z.coerce.number().int().min(1).max(100000).default(50),
  seed: z.coerce.number().int().default(1),
  format: z.enum(['png', 'jpeg']).default('png'),
  size: z.coerce.number().int().min(16).max(2048).default(200),
  classes: z.string().transform(list).pipe(z.array(z.enum(SYNTH_CLASSES)).min(1)).optional(),
});
const cleanSchema = z.object({
  fix: z.boolean().default(false),
  out: z.string().optional(),
  impute: z.enum(IMPUTE_STRATEGIES).default('auto'),
  schema: z.string().optional(),
  model: z.string().optional(),
  repo: z.string().default(DEFAULT_REPO),
  keepOutOfRange: z.boolean().default(false),
  target: z.string().optional(),
  drop: z.string().transform(list).optional(),
  derive: z.array(z.string()).default([]),
  folds: z.coerce.number().int().min(2).max(20).default(5),
  labelThreshold: z.union([z.literal('auto'), z.coerce.number().min(0).max(1)]).default(0.2),
  hamming: z.coerce.number().int().min(0).max(32).default(4),
  json: z.boolean().default(false),
});
type CleanOptions = z.infer<typeof cleanSchema>;

async function loadSchema(o: CleanOptions): Promise<RangeSchema | undefined> {
  if (o.schema) {
    let text: string;
    try {
      text = await fs.readFile(o.schema, 'utf8');
    } catch {
      throw new LsError('LS_ERR_FILE_NOT_FOUND', undefined, { subject: o.schema });
    }
    let raw: unknown;
    try {
      raw = YAML.parse(text);
    } catch (e) {
      throw new LsError('LS_ERR_VALIDATION', `schema is not YAML/JSON: ${(e as Error).message.split('\n')[0]}`, { subject: o.schema });
    }
    return parseWith(rangeSchemaSchema, raw, 'LS_ERR_VALIDATION', o.schema);
  }
  if (o.model) {
    const repo = await ModelRepository.open(o.repo);
    const r = await repo.resolve(parseModelRef(o.model));
    if (r.manifest.preprocess.kind !== 'tabular') throw new LsError('LS_ERR_VALIDATION', `--model ${o.model} is not a tabular model; its features cannot serve as a range schema`);
    return schemaFromFeatures(r.manifest.preprocess.features);
  }
  return undefined;
}

function formatTableReport(file: string, r: TableCleanReport): string {
  const lines = [`${file}: ${r.rows} rows`];
  lines.push(`exact duplicate rows: ${r.duplicates.reduce((a, g) => a + g.items.length - 1, 0)}${r.duplicates.length ? ` (${r.duplicates.slice(0, 10).map((g) => `rows ${g.items.join('=')}`).join('; ')})` : ''}`);
  lines.push(`missing values: ${r.missing.totalMissing}`);
  for (const c of r.missing.columns) lines.push(`  ${c.column}: ${c.missing} missing (rows ${c.rows.join(', ')}${c.missing > c.rows.length ? ', ...' : ''}) -> ${c.strategy}${c.fill !== undefined ? ` ${c.fill}` : ''}`);
  lines.push(`out-of-range values: ${r.outOfRange.length}`);
  for (const v of r.outOfRange.slice(0, 20)) lines.push(`  row ${v.row} ${v.column}=${v.value}: ${v.reason}`);
  if (r.labelIssues) {
    lines.push(`suspected label errors: ${r.labelIssues.issues.length}`);
    for (const x of r.labelIssues.issues.slice(0, 30)) lines.push(`  row ${x.item}: given ${x.given} (p=${x.givenProbability.toFixed(3)}), suggested ${x.suggested} (p=${x.suggestedProbability.toFixed(3)})`);
  }
  return lines.join('\n');
}

function formatImageReport(dir: string, r: ImageCleanReport): string {
  const lines = [`${dir}: ${r.files} images`];
  lines.push(`exact duplicates (same bytes): ${r.exact.length} group(s)`);
  for (const g of r.exact) lines.push(`  ${g.items.join('  ==  ')}`);
  lines.push(`near duplicates (perceptual hash): ${r.near.length} group(s)`);
  for (const g of r.near) lines.push(`  ${g.items.map((f, i) => (i ? `${f} (distance ${g.distances?.[i]})` : f)).join('  ~  ')}`);
  if (r.unreadable.length) lines.push(`unreadable: ${r.unreadable.length}`, ...r.unreadable.map((u) => `  ${u.code}: ${u.error} (${u.file})`));
  if (r.labelIssues) {
    lines.push(`suspected label errors: ${r.labelIssues.length}`);
    for (const x of r.labelIssues.slice(0, 30)) lines.push(`  ${x.item}: given ${x.given} (p=${x.givenProbability.toFixed(3)}), suggested ${x.suggested} (p=${x.suggestedProbability.toFixed(3)})`);
  }
  return lines.join('\n');
}

async function cleanImages(dir: string, o: CleanOptions): Promise<void> {
  const files = await readImageFolder(dir);
  const dup = await findImageDuplicates(files.map((f) => f.path), o.hamming);
  let labelIssues;
  if (o.model) {
    const model = await openModel({ repo: o.repo, model: o.model });
    try {
      const emb = await extractEmbeddings(model, files.map((f) => f.path));
      const labels = [...new Set(files.map((f) => f.label))].sort();
      const y = emb.index.map((i) => labels.indexOf(files[i]!.label));
      labelIssues = embeddingLabelIssues(emb, y, labels, emb.index.map((i) => files[i]!.path), o.folds, o.labelThreshold, { ...FINETUNE_DEFAULTS, model: 'softmax', epochs: 100 });
    } finally {
      await model.dispose();
    }
  }
  const report: ImageCleanReport = { ...dup, ...(labelIssues ? { labelIssues } : {}) };
  let copied: number | undefined;
  if (o.fix) {
    if (!o.out) throw new LsError('LS_ERR_VALIDATION', '--fix needs --out DIR for the cleaned copy (the original is never changed)');
    copied = await writeCleanImageFolder(dir, o.out, report);
  }
  process.stdout.write(o.json ? `${JSON.stringify({ ...report, ...(copied !== undefined ? { written: o.out, copied } : {}) })}\n` : `${formatImageReport(dir, report)}${copied !== undefined ? `\nwrote ${copied} images to ${o.out}` : ''}\n`);
}

async function cleanCsv(file: string, o: CleanOptions): Promise<void> {
  const table = await readCsv(file);
  const schema = await loadSchema(o);
  if (o.target && !table.columns.includes(o.target)) throw new LsError('LS_ERR_CSV', `no target column "${o.target}" (columns: ${table.columns.join(', ')})`, { subject: file });
  const { report, cleaned } = cleanTable(table, {
    impute: o.impute,
    ...(schema ? { schema } : {}),
    dropOutOfRange: !o.keepOutOfRange,
    ...(o.target
      ? { labels: { target: o.target, ...(o.drop ? { drop: o.drop } : {}), derived: o.derive.map(parseDerived), folds: o.folds, threshold: o.labelThreshold, train: { ...DEFAULT_TRAIN_OPTIONS, model: 'mlp', epochs: 20 } } }
      : {}),
  });
  let out: string | undefined;
  if (o.fix) {
    out = o.out ?? path.join(path.dirname(file), `${path.basename(file, path.extname(file))}.clean.csv`);
    await writeCleanTable(file, out, cleaned);
  }
  process.stdout.write(o.json ? `${JSON.stringify({ ...report, ...(out ? { written: out } : {}) })}\n` : `${formatTableReport(file, report)}${out ? `\nwrote ${report.cleanedRows} rows to ${out}` : ''}\n`);
}

/** Register `linesight data synth sensors|images` and `linesight data clean`. */
export function register(program: Command): void {
  const data = program.command('data').description('synthetic data and data cleaning');
  const synth = data.command('synth').description('generate seeded SYNTHETIC data (documented as synthetic; for tests and demos)');
  synth
    .command('sensors')
    .description('machine readings with AI4I-like physics and its five failure modes, as a CSV in the AI4I layout')
    .requiredOption('--out <file.csv>', 'where to write the table')
    .option('--rows <n>', 'number of rows', '10000')
    .option('--seed <n>', 'random seed', '1')
    .action(action(async (raw: Record<string, unknown>) => {
      const o = parseWith(sensorsSchema, raw, 'LS_ERR_VALIDATION', 'data synth sensors');
      const rows = synthSensorTable(o.rows, o.seed);
      await fs.mkdir(path.dirname(path.resolve(o.out)), { recursive: true });
      await fs.writeFile(o.out, formatCsv(AI4I_COLUMNS, rows));
      const failures = rows.filter((r) => r[8] === 1).length;
      process.stdout.write(`wrote ${rows.length} synthetic rows (${failures} failures, ${((failures / rows.length) * 100).toFixed(1)}%) to ${o.out}\n`);
    }));
  synth
    .command('images')
    .description(`procedural defect images (${SYNTH_CLASSES.join(', ')}) in the folder-per-class layout`)
    .requiredOption('--out <dir>', 'output folder (DIR/<class>/<image>)')
    .option('--per-class <n>', 'images per class', '50')
    .option('--seed <n>', 'random seed', '1')
    .option('--format <fmt>', 'png | jpeg', 'png')
    .option('--size <px>', 'image width and height', '200')
    .option('--classes <list>', `comma-separated subset of ${SYNTH_CLASSES.join(',')}`)
    .action(action(async (raw: Record<string, unknown>) => {
      const o = parseWith(imagesSchema, raw, 'LS_ERR_VALIDATION', 'data synth images');
      const files = await writeSynthImages(o.out, { perClass: o.perClass, seed: o.seed, format: o.format, size: o.size, ...(o.classes ? { classes: o.classes as SynthClass[] } : {}) });
      process.stdout.write(`wrote ${files.length} synthetic images to ${o.out}\n`);
    }));
  data
    .command('clean')
    .description('report duplicates, missing values, out-of-range values and suspected label errors in a CSV or an image folder')
    .argument('<path>', 'a CSV file, or an image folder in the folder-per-class layout')
    .option('--fix', 'write a cleaned copy (never modifies the original)')
    .option('--out <path>', 'where the cleaned copy goes (CSV default: NAME.clean.csv next to the input; required for folders)')
    .option('--impute <strategy>', `missing values: ${IMPUTE_STRATEGIES.join(' | ')} (auto = median for numbers, most frequent otherwise)`, 'auto')
    .option('--schema <file>', 'range schema YAML/JSON: columns: {NAME: {min, max} | {allowed: [...]}}')
    .option('--model <name[:version]>', 'tables: use this tabular model\'s feature ranges as schema; images: use its embeddings for label checks')
    .option('--repo <dir>', 'model repository folder', DEFAULT_REPO)
    .option('--keep-out-of-range', 'report out-of-range rows but keep them in the cleaned copy')
    .option('--target <column>', 'tables: check the labels of this column (k-fold, out-of-fold probabilities)')
    .option('--drop <cols>', 'tables: columns not to use as features for the label check')
    .option('--derive <expr>', 'tables: derived feature NAME=COL*COL for the label check; repeatable', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--folds <k>', 'folds for the label check', '5')
    .option('--label-threshold <p|auto>', 'flag items whose out-of-fold probability of their label is below p, or auto: confident learning\'s per-class thresholds', '0.2')
    .option('--hamming <bits>', 'images: near-duplicate distance of the 64-bit perceptual hash', '4')
    .option('--json', 'print a JSON report')
    .action(action(async (target: string, raw: Record<string, unknown>) => {
      const o = parseWith(cleanSchema, raw, 'LS_ERR_VALIDATION', 'data clean');
      let st;
      try {
        st = await fs.stat(target);
      } catch {
        throw new LsError('LS_ERR_FILE_NOT_FOUND', undefined, { subject: target });
      }
      if (st.isDirectory()) await cleanImages(target, o);
      else await cleanCsv(target, o);
    }));
}
