/**
 * Dynamic int8 quantization for MatMul-heavy models (MLPs, tabular models): weights stored as int8
 * (per output column, symmetric), activations quantized at run time by DynamicQuantizeLinear. The
 * emitted pattern DynamicQuantizeLinear → MatMulInteger → Cast → Mul is the one onnxruntime fuses
 * into its DynamicQuantizeMatMul kernel. No calibration data is needed.
 */
import { foldBatchNorm } from './fold-bn.ts';
import { dimsOf, graphOf, initializerMap, inlineIdentityInitializers, inputsOf, outputsOf, removeUnusedInitializers, topoSort, uniqueNamer } from './graph.ts';
import { attr, DataType, makeNode, makeTensor, tensorToFloat32, type ModelProto, type NodeProto } from './proto.ts';
import { quantizeWeightsSymmetric } from './quant-math.ts';
import type { QuantizeSummary } from './quantize.ts';

/** Quantize every MatMul/Gemm with a constant 2-D weight in place. */
export function quantizeDynamic(model: ModelProto): QuantizeSummary {
  const g = graphOf(model);
  inlineIdentityInitializers(g);
  const folded = foldBatchNorm(g);
  const inits = initializerMap(g);
  const fresh = uniqueNamer(g);
  const skipped: Array<{ node: string; reason: string }> = [];
  const counts: Record<string, number> = {};
  const replaced = new Map<NodeProto, NodeProto[]>();
  for (const n of g.node ?? []) {
    if (n.opType !== 'MatMul' && n.opType !== 'Gemm') continue;
    const [a, bName, cName] = inputsOf(n);
    const b = bName ? inits.get(bName) : undefined;
    const label = n.name || `${n.opType}(${outputsOf(n)[0]})`;
    if (!a || !b || dimsOf(b).length !== 2 || inits.has(a)) {
      skipped.push({ node: label, reason: 'weight is not a constant 2-D matrix' });
      continue;
    }
    let k = dimsOf(b)[0]!;
    let cols = dimsOf(b)[1]!;
    let w = tensorToFloat32(b);
    let c: Float32Array | undefined;
    if (n.opType === 'Gemm') {
      const alpha = attr(n, 'alpha')?.f ?? 1;
      const beta = attr(n, 'beta')?.f ?? 1;
      if (alpha !== 1 || beta !== 1 || Number(attr(n, 'transA')?.i ?? 0) !== 0 || (cName && !inits.has(cName))) {
        skipped.push({ node: label, reason: 'Gemm with alpha/beta != 1, transA or a non-constant C' });
        continue;
      }
      if (Number(attr(n, 'transB')?.i ?? 0) === 1) {
        // B is [N, K]: MatMulInteger wants [K, N].
        const t = new Float32Array(w.length);
        for (let r = 0; r < k; r++) for (let j = 0; j < cols; j++) t[j * k + r] = w[r * cols + j]!;
        w = t;
        [k, cols] = [cols, k];
      }
      c = cName ? tensorToFloat32(inits.get(cName)!) : undefined;
      if (c && c.length !== cols) {
        skipped.push({ node: label, reason: 'Gemm bias is not one value per output' });
        continue;
      }
    }
    const { q, scales } = quantizeWeightsSymmetric(w, [k, cols], 1);
    const base = fresh(`${bName}_dyn`);
    const wq = makeTensor(fresh(`${base}_quantized`), [k, cols], q);
    const ws = makeTensor(fresh(`${base}_scale`), [cols], scales);
    const wz = makeTensor(fresh(`${base}_zero_point`), [], Int8Array.of(0));
    g.initializer!.push(wq, ws, wz);
    const y = outputsOf(n)[0]!;
    const [aq, as, az, yi, yf, sc] = ['a_quantized', 'a_scale', 'a_zero_point', 'int32', 'float', 'combined_scale'].map((s) => fresh(`${base}_${s}`)) as [string, string, string, string, string, string];
    const nodes: NodeProto[] = [
      makeNode('DynamicQuantizeLinear', [a], [aq, as, az], {}, fresh(`${base}_DynamicQuantizeLinear`)),
      makeNode('MatMulInteger', [aq, wq.name!, az, wz.name!], [yi], {}, fresh(`${base}_MatMulInteger`)),
      makeNode('Cast', [yi], [yf], { to: DataType.FLOAT }, fresh(`${base}_Cast`)),
      makeNode('Mul', [as, ws.name!], [sc], {}, fresh(`${base}_ScaleMul`)),
    ];
    if (c) {
      const bias = makeTensor(fresh(`${base}_bias`), [cols], c);
      g.initializer!.push(bias);
      const ym = fresh(`${base}_scaled`);
      nodes.push(makeNode('Mul', [yf, sc], [ym], {}, fresh(`${base}_Mul`)), makeNode('Add', [ym, bias.name!], [y], {}, fresh(`${base}_Add`)));
    } else {
      nodes.push(makeNode('Mul', [yf, sc], [y], {}, fresh(`${base}_Mul`)));
    }
    replaced.set(n, nodes);
    counts[n.opType] = (counts[n.opType] ?? 0) + 1;
  }
  g.node = (g.node ?? []).flatMap((n) => replaced.get(n) ?? [n]);
  removeUnusedInitializers(g);
  topoSort(g);
  return { mode: 'dynamic', folded_batchnorm: folded, fused_relu: 0, quantized_nodes: counts, quantized_activations: 0, skipped };
}
