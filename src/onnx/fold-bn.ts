/**
 * Fold BatchNormalization into the Conv (or Gemm) before it: W' = W·γ/√(σ²+ε) per output channel,
 * b' = (b − μ)·γ/√(σ²+ε) + β. Quantization and channel pruning need the folded form: onnxruntime only
 * fuses Conv into QLinearConv without a BatchNormalization in between, and channel norms must see the real scale.
 */
import { attr, makeTensor, tensorToFloat32, type GraphProto } from './proto.ts';
import { consumerMap, dimsOf, graphOutputNames, initializerMap, inputsOf, outputsOf, removeUnusedInitializers, uniqueNamer } from './graph.ts';

/** Fold every foldable BatchNormalization; returns how many were folded. */
export function foldBatchNorm(g: GraphProto): number {
  const inits = initializerMap(g);
  const consumers = consumerMap(g);
  const outs = graphOutputNames(g);
  const fresh = uniqueNamer(g);
  const removed = new Set<object>();
  let folded = 0;
  for (const node of g.node ?? []) {
    if (node.opType !== 'Conv' && node.opType !== 'Gemm') continue;
    const y = outputsOf(node)[0];
    if (!y || outs.has(y)) continue;
    const users = consumers.get(y) ?? [];
    const bn = users[0];
    if (users.length !== 1 || !bn || bn.opType !== 'BatchNormalization' || outputsOf(bn).length > 1) continue;
    const [, sName, bName, mName, vName] = inputsOf(bn);
    const params = [sName, bName, mName, vName].map((n) => (n ? inits.get(n) : undefined));
    const wName = inputsOf(node)[1];
    const w = wName ? inits.get(wName) : undefined;
    if (!w || params.some((p) => !p)) continue;
    if (node.opType === 'Gemm') {
      const transB = attr(node, 'transB')?.i;
      const alpha = attr(node, 'alpha')?.f ?? 1;
      if (!transB || Number(transB) !== 1 || alpha !== 1) continue;
    }
    const [gamma, beta, mean, variance] = params.map((p) => tensorToFloat32(p!)) as [Float32Array, Float32Array, Float32Array, Float32Array];
    const eps = attr(bn, 'epsilon')?.f ?? 1e-5;
    const wDims = dimsOf(w);
    const cout = wDims[0] ?? 0;
    if (gamma.length !== cout) continue;
    const wData = tensorToFloat32(w);
    const per = wData.length / cout;
    const bIn = inputsOf(node)[2];
    const bOld = bIn ? inits.get(bIn) : undefined;
    if (bIn && !bOld) continue;
    const bData = bOld ? tensorToFloat32(bOld) : new Float32Array(cout);
    const newW = new Float32Array(wData.length);
    const newB = new Float32Array(cout);
    for (let c = 0; c < cout; c++) {
      const k = gamma[c]! / Math.sqrt(variance[c]! + eps);
      for (let j = 0; j < per; j++) newW[c * per + j] = wData[c * per + j]! * k;
      newB[c] = (bData[c]! - mean[c]!) * k + beta[c]!;
    }
    const wNew = makeTensor(fresh(`${wName}_bnfolded`), wDims, newW);
    const bNew = makeTensor(fresh(`${node.name || wName}_bias_bnfolded`), [cout], newB);
    g.initializer!.push(wNew, bNew);
    const ins = inputsOf(node);
    ins[1] = wNew.name!;
    ins[2] = bNew.name!;
    if (node.opType === 'Gemm') {
      // Gemm's C is scaled by beta: the folded bias must be added as is.
      node.attribute = (node.attribute ?? []).filter((a) => a.name !== 'beta');
    }
    // The Conv now writes what the BatchNormalization wrote.
    outputsOf(node)[0] = outputsOf(bn)[0]!;
    removed.add(bn);
    folded++;
  }
  if (folded) {
    g.node = (g.node ?? []).filter((n) => !removed.has(n));
    removeUnusedInitializers(g);
  }
  return folded;
}
