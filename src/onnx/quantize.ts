/**
 * int8 static quantization in onnxruntime's QDQ "U8S8" format: uint8 activations (calibrated),
 * int8 per-channel symmetric weights (axis 0), int32 biases with scale = input scale × weight scale,
 * all behind DequantizeLinear. BatchNormalization is folded first and a ReLU after a Conv/Gemm is
 * absorbed into the following QuantizeLinear (zero point 0 clamps negatives exactly as ReLU does),
 * so onnxruntime fuses every DQ→Conv→Q into QLinearConv and runs MaxPool on 8 bits.
 */
import { LsError } from '../core/errors.ts';
import type { InferenceBackend } from '../runtime/backend.ts';
import type { Tensor } from '../runtime/tensor.ts';
import { calibrateRanges, type CalibrationMethod } from './calibrate.ts';
import { foldBatchNorm } from './fold-bn.ts';
import {
  consumerMap, dimsOf, graphInputNames, graphOf, graphOutputNames, initializerMap, inlineIdentityInitializers, inputsOf,
  outputsOf, producerMap, removeUnusedInitializers, renameInput, topoSort, uniqueNamer,
} from './graph.ts';
import { attr, decodeModel, encodeModel, makeNode, makeTensor, tensorToFloat32, type GraphProto, type ModelProto, type NodeProto } from './proto.ts';
import { activationParams, quantizeBias, quantizeWeightsSymmetric, type ActParams, type Range } from './quant-math.ts';

/** Nodes with a weight initializer that become integer kernels. */
const WEIGHTED = new Set(['Conv', 'Gemm', 'MatMul']);
/**
 * A Conv whose filter reads fewer values than this per output (input channels per group × kernel
 * height × kernel width) stays float. onnxruntime's QLinearConv is built for deep filters: on the
 * bundled model's first layer (1 input channel, 3×3, 224×224) it takes 383 µs against 88 µs in float
 * on one thread (`npm run bench:optimize -- --variants int8,int8-all --profile-nodes`).
 */
export const MIN_INT8_CONV_DEPTH = 16;
/** Nodes that only move values: their output keeps the input's scale, so Q/DQ around them match and drop out. */
const PASS_THROUGH = new Set(['MaxPool', 'Flatten', 'Reshape']);
/** Nodes with quantized kernels of their own (QLinearGlobalAveragePool, QLinearAveragePool, QLinearAdd). */
const REQUANTIZING = new Set(['GlobalAveragePool', 'AveragePool', 'Add']);

/** Calibration data and method for static quantization. */
export interface StaticQuantOptions {
  /** Calibration batches, as feeds of the model. */
  readonly calibration: ReadonlyArray<Readonly<Record<string, Tensor>>>;
  readonly method: CalibrationMethod;
  readonly percentile?: number;
  readonly backend: InferenceBackend;
  readonly intraOpThreads?: number;
  /** Conv filters reading fewer values per output stay float (default MIN_INT8_CONV_DEPTH; 0 quantizes every Conv). */
  readonly minConvDepth?: number;
}

/** What a quantization changed, for the report and the version's metadata. */
export interface QuantizeSummary {
  readonly mode: 'static' | 'dynamic';
  readonly folded_batchnorm: number;
  readonly fused_relu: number;
  readonly quantized_nodes: Record<string, number>;
  readonly quantized_activations: number;
  readonly calibration?: { method: CalibrationMethod; percentile?: number; batches: number };
  /** Weighted nodes left in float, with why. */
  readonly skipped: ReadonlyArray<{ node: string; reason: string }>;
}

/** Quantize a float model in place (QDQ, static). */
export async function quantizeStatic(model: ModelProto, opts: StaticQuantOptions): Promise<QuantizeSummary> {
  const g = graphOf(model);
  inlineIdentityInitializers(g);
  const folded = foldBatchNorm(g);
  topoSort(g);
  const skipped: Array<{ node: string; reason: string }> = [];
  const weighted = (g.node ?? []).filter((n) => WEIGHTED.has(n.opType ?? '') && weightSpec(g, n, skipped, opts.minConvDepth ?? MIN_INT8_CONV_DEPTH));

  // Calibrate on the float graph (with its ReLUs), then absorb the ReLUs.
  const calibrationModel = decodeModel(encodeModel(model));
  const fusedRelu = fuseRelu(g, new Set(weighted));
  const acts = activationTensors(g, new Set(weighted));
  for (const t of fusedRelu) acts.add(t);
  const ranges = await calibrateRanges(calibrationModel, [...acts], opts.calibration, opts.backend, {
    method: opts.method, percentile: opts.percentile, intraOpThreads: opts.intraOpThreads,
  });
  const params = chooseParams(g, acts, ranges);
  const fresh = uniqueNamer(g);
  insertActivationQdq(g, params, fresh);
  const counts: Record<string, number> = {};
  for (const n of weighted) {
    quantizeWeightedNode(g, n, params, fresh);
    counts[n.opType!] = (counts[n.opType!] ?? 0) + 1;
  }
  for (const n of g.node ?? []) {
    if (PASS_THROUGH.has(n.opType ?? '') || REQUANTIZING.has(n.opType ?? '')) {
      if (params.has(outputsOf(n)[0] ?? '')) counts[n.opType!] = (counts[n.opType!] ?? 0) + 1;
    }
  }
  removeUnusedInitializers(g);
  topoSort(g);
  return {
    mode: 'static',
    folded_batchnorm: folded,
    fused_relu: fusedRelu.size,
    quantized_nodes: counts,
    quantized_activations: params.size,
    calibration: { method: opts.method, ...(opts.method === 'percentile' ? { percentile: opts.percentile ?? 99.99 } : {}), batches: opts.calibration.length },
    skipped,
  };
}

/** Whether a weighted node can be quantized (float initializer weight of a shape the kernels take). */
function weightSpec(g: GraphProto, n: NodeProto, skipped: Array<{ node: string; reason: string }>, minConvDepth: number): boolean {
  const inits = initializerMap(g);
  const w = inits.get(inputsOf(n)[1] ?? '');
  const label = n.name || `${n.opType}(${outputsOf(n)[0]})`;
  if (!w) {
    skipped.push({ node: label, reason: 'weight is not a constant' });
    return false;
  }
  if (inits.has(inputsOf(n)[0] ?? '')) {
    skipped.push({ node: label, reason: 'first input is a constant' });
    return false;
  }
  if (n.opType === 'Conv') {
    const d = dimsOf(w);
    const depth = d.slice(1).reduce((a, x) => a * x, 1);
    if (d.length >= 3 && depth < minConvDepth) {
      skipped.push({ node: label, reason: `shallow filter (${d.slice(1).join('×')} = ${depth} values per output, below ${minConvDepth}): the int8 kernel is slower than float here` });
      return false;
    }
  }
  if (n.opType === 'MatMul' && dimsOf(w).length !== 2) {
    skipped.push({ node: label, reason: 'MatMul weight is not 2-D' });
    return false;
  }
  if (n.opType === 'Gemm') {
    const alpha = attr(n, 'alpha')?.f ?? 1;
    const beta = attr(n, 'beta')?.f ?? 1;
    const transA = Number(attr(n, 'transA')?.i ?? 0);
    const c = inputsOf(n)[2];
    if (alpha !== 1 || beta !== 1 || transA !== 0 || (c && !inits.has(c))) {
      skipped.push({ node: label, reason: 'Gemm with alpha/beta != 1, transA or a non-constant C' });
      return false;
    }
  }
  return true;
}

/**
 * A ReLU right after a weighted node or Add (its only reader) is removed: the node writes the ReLU's
 * tensor, which must then be quantized (the QuantizeLinear does the clamping). Returns those tensors.
 * A ReLU whose output is a model output is kept: model outputs are read before quantization.
 */
function fuseRelu(g: GraphProto, weighted: Set<NodeProto>): Set<string> {
  const consumers = consumerMap(g);
  const outs = graphOutputNames(g);
  const drop = new Set<NodeProto>();
  const fused = new Set<string>();
  for (const n of g.node ?? []) {
    if (!weighted.has(n) && n.opType !== 'Add') continue;
    const y = outputsOf(n)[0];
    const users = y ? (consumers.get(y) ?? []) : [];
    const relu = users[0];
    if (!y || outs.has(y) || users.length !== 1 || relu?.opType !== 'Relu') continue;
    const r = outputsOf(relu)[0];
    if (!r || outs.has(r)) continue;
    outputsOf(n)[0] = r;
    drop.add(relu);
    fused.add(r);
  }
  g.node = (g.node ?? []).filter((n) => !drop.has(n));
  return fused;
}

/** The activation tensors that get a Q/DQ pair: inputs of quantized nodes and outputs that feed them. */
function activationTensors(g: GraphProto, weighted: Set<NodeProto>): Set<string> {
  const inits = initializerMap(g);
  const consumers = consumerMap(g);
  const quantizedReader = (n: NodeProto) => weighted.has(n) || PASS_THROUGH.has(n.opType ?? '') || REQUANTIZING.has(n.opType ?? '');
  const acts = new Set<string>();
  for (const n of g.node ?? []) {
    if (!quantizedReader(n)) continue;
    const ins = inputsOf(n);
    const data = n.opType === 'Add' ? ins : ins.slice(0, 1);
    if (n.opType === 'Add' && ins.some((i) => inits.has(i))) continue;
    for (const i of data) if (i && !inits.has(i)) acts.add(i);
  }
  // Outputs of weighted/requantizing nodes are quantized when a quantized node reads them, so the
  // engine sees DQ→op→Q and fuses; an output only read by float ops stays float.
  for (const n of g.node ?? []) {
    if (!(weighted.has(n) || REQUANTIZING.has(n.opType ?? '') || PASS_THROUGH.has(n.opType ?? ''))) continue;
    const y = outputsOf(n)[0];
    if (!y) continue;
    if ((consumers.get(y) ?? []).some(quantizedReader)) acts.add(y);
  }
  // A PASS_THROUGH node is only worth it when its input is quantized; its output then keeps the scale.
  for (const n of g.node ?? []) {
    if (!PASS_THROUGH.has(n.opType ?? '')) continue;
    const x = inputsOf(n)[0];
    const y = outputsOf(n)[0];
    if (x && y && acts.has(x)) acts.add(y);
  }
  return acts;
}

/** uint8 parameters per tensor, in graph order so pass-through outputs inherit their input's. */
function chooseParams(g: GraphProto, acts: Set<string>, ranges: Map<string, Range>): Map<string, ActParams> {
  const params = new Map<string, ActParams>();
  const inputs = new Set(graphInputNames(g));
  const fromRange = (t: string): ActParams => {
    const r = ranges.get(t);
    if (!r) throw new LsError('LS_ERR_INTERNAL', `no calibration range for ${t}`);
    // Images scaled to [0, 1] by x/255 are represented exactly with scale 1/255.
    if (inputs.has(t) && r.min >= 0 && r.max <= 1) return { scale: 1 / 255, zeroPoint: 0 };
    return activationParams(r);
  };
  for (const t of acts) if (inputs.has(t)) params.set(t, fromRange(t));
  for (const n of g.node ?? []) {
    const y = outputsOf(n)[0];
    if (!y || !acts.has(y)) continue;
    const x = inputsOf(n)[0];
    if (PASS_THROUGH.has(n.opType ?? '') && x && params.has(x)) params.set(y, params.get(x)!);
    else params.set(y, fromRange(y));
  }
  for (const t of acts) if (!params.has(t)) params.set(t, fromRange(t));
  return params;
}

/** Insert Q→DQ after every quantized activation; all readers take the DQ output (graph outputs stay float). */
function insertActivationQdq(g: GraphProto, params: Map<string, ActParams>, fresh: (b: string) => string): void {
  const added: NodeProto[] = [];
  for (const [t, p] of params) {
    const scale = makeTensor(fresh(`${t}_scale`), [], Float32Array.of(p.scale));
    const zp = makeTensor(fresh(`${t}_zero_point`), [], Uint8Array.of(p.zeroPoint));
    const q = fresh(`${t}_quantized`);
    const dq = fresh(`${t}_dequantized`);
    g.initializer!.push(scale, zp);
    renameInput(g, t, dq);
    added.push(
      makeNode('QuantizeLinear', [t, scale.name!, zp.name!], [q], {}, fresh(`${t}_QuantizeLinear`)),
      makeNode('DequantizeLinear', [q, scale.name!, zp.name!], [dq], {}, fresh(`${t}_DequantizeLinear`)),
    );
  }
  g.node!.push(...added);
}

/** Replace a node's weight (and bias) by int8 (int32) initializers behind DequantizeLinear. */
function quantizeWeightedNode(g: GraphProto, n: NodeProto, params: Map<string, ActParams>, fresh: (b: string) => string): void {
  const inits = initializerMap(g);
  const producers = producerMap(g);
  const ins = inputsOf(n);
  const wInit = inits.get(ins[1]!)!;
  let wDims = dimsOf(wInit);
  let w = tensorToFloat32(wInit);
  let axis: number | undefined = 0;
  if (n.opType === 'Gemm' && Number(attr(n, 'transB')?.i ?? 0) !== 1) {
    // Store B as [N, K] so its output channels are axis 0, as the integer GEMM wants.
    w = transpose2d(w, wDims[0]!, wDims[1]!);
    wDims = [wDims[1]!, wDims[0]!];
    n.attribute = [...(n.attribute ?? []).filter((a) => a.name !== 'transB'), makeNode('X', [], [], { transB: 1 }).attribute![0]!];
  }
  if (n.opType === 'MatMul') axis = undefined; // per-tensor: the portable QLinearMatMul form
  // The activation feeding this node is read through its DQ; its scale sets the bias scale.
  const qParamsOfX = sourceParams(producers, ins[0] ?? '', params);
  const { q, scales } = quantizeWeightsSymmetric(w, wDims, axis);
  const base = ins[1]!;
  const wq = makeTensor(fresh(`${base}_quantized`), wDims, q);
  // Per-channel: 1-D scale and zero point of the channel count; per-tensor: scalars.
  const qDims = axis === undefined ? [] : [scales.length];
  const ws = makeTensor(fresh(`${base}_scale`), qDims, scales);
  const wz = makeTensor(fresh(`${base}_zero_point`), qDims, new Int8Array(scales.length));
  const wdq = fresh(`${base}_dequantized`);
  g.initializer!.push(wq, ws, wz);
  const newNodes: NodeProto[] = [makeNode('DequantizeLinear', [wq.name!, ws.name!, wz.name!], [wdq], axis === undefined ? {} : { axis }, fresh(`${base}_DequantizeLinear`))];
  ins[1] = wdq;
  const bName = n.opType === 'MatMul' ? undefined : ins[2];
  const bInit = bName ? inits.get(bName) : undefined;
  if (bInit && qParamsOfX && dimsOf(bInit).length === 1) {
    const b = tensorToFloat32(bInit);
    const bq = quantizeBias(b, qParamsOfX.scale, scales);
    const bqT = makeTensor(fresh(`${bName}_quantized`), [b.length], bq.q);
    const bsT = makeTensor(fresh(`${bName}_scale`), [b.length], bq.scales);
    const bzT = makeTensor(fresh(`${bName}_zero_point`), [b.length], new Int32Array(b.length));
    const bdq = fresh(`${bName}_dequantized`);
    g.initializer!.push(bqT, bsT, bzT);
    newNodes.push(makeNode('DequantizeLinear', [bqT.name!, bsT.name!, bzT.name!], [bdq], { axis: 0 }, fresh(`${bName}_DequantizeLinear`)));
    ins[2] = bdq;
  }
  g.node!.push(...newNodes);
}

/** The parameters of the activation behind a DequantizeLinear output (DQ ← Q ← tensor). */
function sourceParams(producers: Map<string, NodeProto>, dqOut: string, params: Map<string, ActParams>): ActParams | undefined {
  const dq = producers.get(dqOut);
  if (dq?.opType !== 'DequantizeLinear') return undefined;
  const q = producers.get(inputsOf(dq)[0] ?? '');
  return q?.opType === 'QuantizeLinear' ? params.get(inputsOf(q)[0] ?? '') : undefined;
}

function transpose2d(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c]!;
  return out;
}
