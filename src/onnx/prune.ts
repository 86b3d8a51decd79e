/**
 * Magnitude pruning of Conv/Gemm/MatMul weights.
 * - Unstructured: zero the smallest |w| of each layer up to the ratio. The file compresses better
 *   (gzip) but dense kernels do the same work, so latency does not change.
 * - Structured: remove whole Conv output channels with the smallest L1 norm and rewrite the next
 *   Conv's input channels. The tensors get smaller, so latency drops; accuracy needs checking (no fine-tuning here).
 */
import { LsError } from '../core/errors.ts';
import { foldBatchNorm } from './fold-bn.ts';
import {
  consumerMap, dimsOf, graphOf, graphOutputNames, initializerMap, inlineIdentityInitializers, inputsOf, outputsOf,
  removeUnusedInitializers, uniqueNamer,
} from './graph.ts';
import { attr, makeTensor, tensorToFloat32, type GraphProto, type ModelProto, type NodeProto } from './proto.ts';

/** What pruning changed. */
export interface PruneSummary {
  readonly mode: 'unstructured' | 'structured';
  readonly ratio: number;
  /** Per layer: weights zeroed (unstructured) or channels before → after (structured). */
  readonly layers: ReadonlyArray<{ node: string; zeroed?: number; total?: number; channels_before?: number; channels_after?: number }>;
  readonly skipped: ReadonlyArray<{ node: string; reason: string }>;
  /** Whether removed channels were replaced by their mean activation (structured, with calibration data). */
  readonly compensated?: boolean;
}

function checkRatio(ratio: number): void {
  if (!(ratio > 0 && ratio < 1)) throw new LsError('LS_ERR_VALIDATION', `prune ratio must be between 0 and 1 (exclusive), got ${ratio}`);
}

/** Zero the smallest-magnitude weights of every Conv/Gemm/MatMul, `ratio` of each layer. */
export function pruneUnstructured(model: ModelProto, ratio: number): PruneSummary {
  checkRatio(ratio);
  const g = graphOf(model);
  inlineIdentityInitializers(g);
  const inits = initializerMap(g);
  const fresh = uniqueNamer(g);
  const layers: Array<{ node: string; zeroed: number; total: number }> = [];
  const done = new Map<string, string>();
  for (const n of g.node ?? []) {
    if (!['Conv', 'Gemm', 'MatMul'].includes(n.opType ?? '')) continue;
    const wName = inputsOf(n)[1] ?? '';
    const w = inits.get(wName);
    if (!w) continue;
    if (done.has(wName)) {
      inputsOf(n)[1] = done.get(wName)!;
      continue;
    }
    const data = tensorToFloat32(w);
    const k = Math.floor(data.length * ratio);
    // Exactly k values are zeroed; ties at the threshold are broken by position.
    const order = Uint32Array.from({ length: data.length }, (_, i) => i).sort((i, j) => Math.abs(data[i]!) - Math.abs(data[j]!) || i - j);
    const out = Float32Array.from(data);
    for (let i = 0; i < k; i++) out[order[i]!] = 0;
    const zeroed = k;
    const t = makeTensor(fresh(`${wName}_pruned`), dimsOf(w), out);
    g.initializer!.push(t);
    inputsOf(n)[1] = t.name!;
    done.set(wName, t.name!);
    layers.push({ node: n.name || wName, zeroed, total: data.length });
  }
  removeUnusedInitializers(g);
  return { mode: 'unstructured', ratio, layers, skipped: [] };
}

/** Ops between two convolutions that act per channel, so removing a channel removes it through them. */
const CHANNELWISE = new Set(['Relu', 'LeakyRelu', 'Clip', 'Sigmoid', 'HardSwish', 'MaxPool', 'AveragePool']);

/** The next Conv reading conv `n`'s output through channel-wise ops only, or why there is none. */
function nextConv(g: GraphProto, n: NodeProto, consumers: Map<string, NodeProto[]>, outs: Set<string>): NodeProto | string {
  let t = outputsOf(n)[0]!;
  for (;;) {
    if (outs.has(t)) return 'its channels reach a model output';
    const users = consumers.get(t) ?? [];
    const u = users[0];
    if (users.length !== 1 || !u) return 'its output has several readers';
    if (u.opType === 'Conv') {
      if (inputsOf(u)[0] !== t) return 'the next Conv reads it as a weight';
      if (Number(attr(u, 'group')?.i ?? 1) !== 1) return 'the next Conv is grouped';
      return u;
    }
    if (!CHANNELWISE.has(u.opType ?? '') || outputsOf(u).length !== 1) return `a ${u.opType} follows it`;
    t = outputsOf(u)[0]!;
  }
}

/** Options of structured pruning. */
export interface StructuredOptions {
  /**
   * Round kept channel counts to a multiple of this (default 1: exactly the ratio). Multiples of 8/16
   * keep onnxruntime's blocked (NCHWc) kernels on every layer, at the price of removing more channels.
   */
  readonly align?: number;
  /**
   * Mean activation per channel of the tensors feeding each next Conv (from calibration data): a
   * removed channel is replaced by its mean, folded into the next Conv's bias, instead of by zero.
   */
  readonly means?: ReadonlyMap<string, ArrayLike<number>>;
}

/** The tensors whose channel means `pruneStructured` can use (inputs of the Convs after prunable Convs). */
export function structuredPruneInputs(model: ModelProto): string[] {
  const g = graphOf(model);
  const consumers = consumerMap(g);
  const outs = graphOutputNames(g);
  const out: string[] = [];
  for (const n of g.node ?? []) {
    if (n.opType !== 'Conv') continue;
    const next = nextConv(g, n, consumers, outs);
    if (typeof next !== 'string') out.push(inputsOf(next)[0]!);
  }
  return out;
}

/** How many channels to keep: cout minus the ratio, rounded to `align`, at least one step removed. */
export function keptChannels(cout: number, ratio: number, align: number): number {
  const raw = cout - Math.floor(cout * ratio);
  if (align <= 1 || cout < 2 * align) return Math.max(1, Math.min(raw, cout - 1));
  const rounded = Math.max(align, Math.round(raw / align) * align);
  return rounded >= cout ? cout - align : rounded;
}

/**
 * Remove `ratio` of the output channels of every Conv whose channels only flow into another Conv
 * (BatchNormalization folded first); the last conv before pooling/heads and grouped convs are kept.
 */
export function pruneStructured(model: ModelProto, ratio: number, opts: StructuredOptions = {}): PruneSummary {
  checkRatio(ratio);
  const align = opts.align ?? 1;
  const g = graphOf(model);
  inlineIdentityInitializers(g);
  foldBatchNorm(g);
  const fresh = uniqueNamer(g);
  const outs = graphOutputNames(g);
  const layers: Array<{ node: string; channels_before: number; channels_after: number }> = [];
  const skipped: Array<{ node: string; reason: string }> = [];
  for (const n of g.node ?? []) {
    if (n.opType !== 'Conv') continue;
    const label = n.name || outputsOf(n)[0] || 'Conv';
    const inits = initializerMap(g);
    const consumers = consumerMap(g);
    const next = nextConv(g, n, consumers, outs);
    if (typeof next === 'string') {
      skipped.push({ node: label, reason: next });
      continue;
    }
    const group = Number(attr(n, 'group')?.i ?? 1);
    const w = inits.get(inputsOf(n)[1] ?? '');
    const w2 = inits.get(inputsOf(next)[1] ?? '');
    const bName = inputsOf(n)[2];
    const b = bName ? inits.get(bName) : undefined;
    if (group !== 1 || !w || !w2 || (bName && !b)) {
      skipped.push({ node: label, reason: group !== 1 ? 'grouped Conv' : 'weights are not constants' });
      continue;
    }
    const dims = dimsOf(w);
    const cout = dims[0]!;
    const kept = keptChannels(cout, ratio, align);
    if (kept >= cout) {
      skipped.push({ node: label, reason: `too few channels (${cout})` });
      continue;
    }
    const wData = tensorToFloat32(w);
    const per = wData.length / cout;
    const norms = Array.from({ length: cout }, (_, c) => {
      let s = 0;
      for (let j = 0; j < per; j++) s += Math.abs(wData[c * per + j]!);
      return [s, c] as const;
    });
    const keep = norms.sort((a, b2) => b2[0] - a[0]).slice(0, kept).map(([, c]) => c).sort((a, b2) => a - b2);
    const newW = new Float32Array(keep.length * per);
    keep.forEach((c, i) => newW.set(wData.subarray(c * per, (c + 1) * per), i * per));
    const wT = makeTensor(fresh(`${inputsOf(n)[1]}_pruned`), [keep.length, ...dims.slice(1)], newW);
    g.initializer!.push(wT);
    inputsOf(n)[1] = wT.name!;
    if (b) {
      const bData = tensorToFloat32(b);
      const bT = makeTensor(fresh(`${bName}_pruned`), [keep.length], Float32Array.from(keep, (c) => bData[c]!));
      g.initializer!.push(bT);
      inputsOf(n)[2] = bT.name!;
    }
    // The next Conv loses the matching input channels: W2 [C2, Cout, kh, kw] → [C2, kept, kh, kw].
    const d2 = dimsOf(w2);
    const w2Data = tensorToFloat32(w2);
    const k2 = d2.slice(2).reduce((a, d) => a * d, 1);
    const c2 = d2[0]!;
    const new2 = new Float32Array(c2 * keep.length * k2);
    for (let o = 0; o < c2; o++) keep.forEach((c, i) => new2.set(w2Data.subarray((o * cout + c) * k2, (o * cout + c + 1) * k2), (o * keep.length + i) * k2));
    const w2T = makeTensor(fresh(`${inputsOf(next)[1]}_pruned`), [c2, keep.length, ...d2.slice(2)], new2);
    g.initializer!.push(w2T);
    inputsOf(next)[1] = w2T.name!;
    const means = opts.means?.get(inputsOf(next)[0]!);
    if (means) compensateBias(g, next, w2Data, d2, keep, means, fresh);
    layers.push({ node: label, channels_before: cout, channels_after: keep.length });
  }
  removeUnusedInitializers(g);
  return { mode: 'structured', ratio, layers, skipped, ...(opts.means ? { compensated: true } : {}) };
}

/** Add Σ W2[o, c, ·] · mean[c] over the removed channels c to the next Conv's bias (padding borders ignored). */
function compensateBias(
  g: GraphProto,
  next: NodeProto,
  w2: Float32Array,
  d2: readonly number[],
  keep: readonly number[],
  means: ArrayLike<number>,
  fresh: (b: string) => string,
): void {
  const [c2 = 0, cin = 0] = d2;
  const k2 = d2.slice(2).reduce((a, d) => a * d, 1);
  const kept = new Set(keep);
  const inits = initializerMap(g);
  const bName = inputsOf(next)[2];
  const old = bName ? inits.get(bName) : undefined;
  const bias = old ? Float32Array.from(tensorToFloat32(old)) : new Float32Array(c2);
  for (let o = 0; o < c2; o++) {
    let add = 0;
    for (let c = 0; c < cin; c++) {
      if (kept.has(c)) continue;
      let s = 0;
      for (let j = 0; j < k2; j++) s += w2[(o * cin + c) * k2 + j]!;
      add += s * (means[c] ?? 0);
    }
    bias[o]! += add;
  }
  const t = makeTensor(fresh(`${bName || next.name || 'conv'}_bias_compensated`), [c2], bias);
  g.initializer!.push(t);
  const ins = inputsOf(next);
  while (ins.length < 3) ins.push('');
  ins[2] = t.name!;
}
