/**
 * Small helpers over an ONNX graph held as protobuf objects: name maps, consumers and producers,
 * topological order, fresh names and clean-up. Every graph rewrite (fold-bn, quantize, prune, fp16) uses these.
 */
import { LsError } from '../core/errors.ts';
import { DataType, toNum, type GraphProto, type ModelProto, type NodeProto, type TensorProto } from './proto.ts';

/** The graph of a decoded model; throws LS_ERR_MODEL_CORRUPT if there is none. */
export function graphOf(model: ModelProto): GraphProto {
  if (!model.graph) throw new LsError('LS_ERR_MODEL_CORRUPT', 'no graph in the model');
  model.graph.node ??= [];
  model.graph.initializer ??= [];
  model.graph.input ??= [];
  model.graph.output ??= [];
  return model.graph;
}

/** Node inputs (empty names are omitted optional inputs and are kept as ''). */
export function inputsOf(n: NodeProto): string[] {
  n.input ??= [];
  return n.input;
}

/** Node outputs. */
export function outputsOf(n: NodeProto): string[] {
  n.output ??= [];
  return n.output;
}

/** Initializers by name. */
export function initializerMap(g: GraphProto): Map<string, TensorProto> {
  return new Map((g.initializer ?? []).map((t) => [t.name ?? '', t]));
}

/** The node producing each tensor. */
export function producerMap(g: GraphProto): Map<string, NodeProto> {
  const m = new Map<string, NodeProto>();
  for (const n of g.node ?? []) for (const o of outputsOf(n)) if (o) m.set(o, n);
  return m;
}

/** The nodes reading each tensor (a node reading a tensor twice is listed once). */
export function consumerMap(g: GraphProto): Map<string, NodeProto[]> {
  const m = new Map<string, NodeProto[]>();
  for (const n of g.node ?? []) {
    for (const i of new Set(inputsOf(n))) {
      if (!i) continue;
      const list = m.get(i);
      if (list) list.push(n);
      else m.set(i, [n]);
    }
  }
  return m;
}

/** Names of the graph outputs. */
export function graphOutputNames(g: GraphProto): Set<string> {
  return new Set((g.output ?? []).map((o) => o.name ?? ''));
}

/** Names of the real graph inputs (not initializers listed as inputs, as old exporters do). */
export function graphInputNames(g: GraphProto): string[] {
  const inits = initializerMap(g);
  return (g.input ?? []).map((i) => i.name ?? '').filter((n) => n && !inits.has(n));
}

/** The opset version of the default ONNX domain. */
export function defaultOpset(model: ModelProto): number {
  const imp = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  return imp ? toNum(imp.version) : 0;
}

/** Dimensions of an initializer as numbers. */
export function dimsOf(t: TensorProto): number[] {
  return (t.dims ?? []).map((d) => toNum(d));
}

/** Element count of an initializer. */
export function elementsOf(t: TensorProto): number {
  return dimsOf(t).reduce((a, d) => a * d, 1);
}

/** Whether an initializer holds 32-bit floats. */
export function isFloatTensor(t: TensorProto): boolean {
  return t.dataType === DataType.FLOAT;
}

/** A generator of names not yet used in the graph. */
export function uniqueNamer(g: GraphProto): (base: string) => string {
  const used = new Set<string>();
  for (const n of g.node ?? []) {
    for (const x of [...inputsOf(n), ...outputsOf(n)]) used.add(x);
    if (n.name) used.add(n.name);
  }
  for (const t of g.initializer ?? []) used.add(t.name ?? '');
  for (const v of [...(g.input ?? []), ...(g.output ?? [])]) used.add(v.name ?? '');
  return (base: string) => {
    let name = base;
    for (let k = 1; used.has(name); k++) name = `${base}_${k}`;
    used.add(name);
    return name;
  };
}

/**
 * Sort nodes so every node comes after the producers of its inputs (Kahn's algorithm).
 * A cycle means the file is not a valid ONNX graph.
 */
export function topoSort(g: GraphProto): void {
  const nodes = g.node ?? [];
  const producer = producerMap(g);
  const indeg = new Map<NodeProto, number>();
  const users = new Map<NodeProto, NodeProto[]>();
  for (const n of nodes) {
    const deps = new Set<NodeProto>();
    for (const i of inputsOf(n)) {
      const p = i ? producer.get(i) : undefined;
      if (p && p !== n) deps.add(p);
    }
    indeg.set(n, deps.size);
    for (const d of deps) {
      const list = users.get(d);
      if (list) list.push(n);
      else users.set(d, [n]);
    }
  }
  const ready = nodes.filter((n) => indeg.get(n) === 0);
  const out: NodeProto[] = [];
  while (ready.length) {
    const n = ready.shift()!;
    out.push(n);
    for (const u of users.get(n) ?? []) {
      const d = indeg.get(u)! - 1;
      indeg.set(u, d);
      if (d === 0) ready.push(u);
    }
  }
  if (out.length !== nodes.length) throw new LsError('LS_ERR_MODEL_CORRUPT', 'the graph has a cycle');
  g.node = out;
}

/** Drop initializers (and their stale graph-input entries) that no node reads any more. */
export function removeUnusedInitializers(g: GraphProto): void {
  const used = new Set<string>();
  for (const n of g.node ?? []) for (const i of inputsOf(n)) used.add(i);
  for (const o of g.output ?? []) used.add(o.name ?? '');
  g.initializer = (g.initializer ?? []).filter((t) => used.has(t.name ?? ''));
  const inits = initializerMap(g);
  const initNames = new Set(inits.keys());
  g.input = (g.input ?? []).filter((i) => !initNames.has(i.name ?? '') || used.has(i.name ?? ''));
}

/** Replace every read of tensor `from` by `to` (graph outputs are not touched). */
export function renameInput(g: GraphProto, from: string, to: string): void {
  for (const n of g.node ?? []) {
    const ins = inputsOf(n);
    for (let k = 0; k < ins.length; k++) if (ins[k] === from) ins[k] = to;
  }
}

/**
 * Remove `Identity` nodes that only pass an initializer through (PyTorch's exporter emits them on
 * shared weights), so rewrites see the weight itself.
 */
export function inlineIdentityInitializers(g: GraphProto): number {
  const inits = initializerMap(g);
  const outs = graphOutputNames(g);
  let removed = 0;
  g.node = (g.node ?? []).filter((n) => {
    if (n.opType !== 'Identity') return true;
    const src = inputsOf(n)[0];
    const dst = outputsOf(n)[0];
    if (!src || !dst || !inits.has(src) || outs.has(dst)) return true;
    renameInput(g, dst, src);
    removed++;
    return false;
  });
  return removed;
}
