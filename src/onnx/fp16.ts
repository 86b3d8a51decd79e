/**
 * fp16 conversion.
 * - Weights only (convertWeightsToFp16): Conv/Gemm/MatMul weights and biases are stored as float16 and
 *   cast back to float32 at load time (a Cast the engine folds once): half the file, same computation.
 * - Whole graph (convertToFp16): computation in float16 for GPU providers, float32 inputs/outputs kept.
 */
import { foldBatchNorm } from './fold-bn.ts';
import {
  dimsOf, graphOf, initializerMap, inlineIdentityInitializers, inputsOf, outputsOf, producerMap, removeUnusedInitializers, renameInput, topoSort,
  uniqueNamer,
} from './graph.ts';
import { DataType, makeNode, makeTensor, tensorToFloat32, type ModelProto, type NodeProto, type TensorProto } from './proto.ts';

export { fromHalfBits, toHalfBits } from '../core/half.ts';
import { toHalfBits } from '../core/half.ts';

/** What fp16 conversion changed. */
export interface Fp16Summary {
  readonly converted_initializers: number;
  /** Values that were beyond the float16 range and became ±65504. */
  readonly clipped_values: number;
  /** float32: weights stored in float16 only; float16: the whole graph computes in float16. */
  readonly compute: 'float32' | 'float16';
}

/** Store the weights of Conv/Gemm/MatMul as float16 (in place; BatchNormalization is folded into them first). */
export function convertWeightsToFp16(model: ModelProto): Fp16Summary {
  const g = graphOf(model);
  inlineIdentityInitializers(g);
  foldBatchNorm(g);
  const inits = initializerMap(g);
  const fresh = uniqueNamer(g);
  const converted = new Map<string, string>();
  let clipped = 0;
  for (const n of g.node ?? []) {
    if (!['Conv', 'Gemm', 'MatMul'].includes(n.opType ?? '')) continue;
    const ins = inputsOf(n);
    for (let k = 1; k < Math.min(ins.length, 3); k++) {
      const name = ins[k];
      const t = name ? inits.get(name) : undefined;
      if (!name || !t || t.dataType !== DataType.FLOAT) continue;
      let cast = converted.get(name);
      if (!cast) {
        const data = tensorToFloat32(t);
        const half = new Uint16Array(data.length);
        for (let i = 0; i < data.length; i++) {
          const v = data[i]!;
          if (Math.abs(v) > 65504) clipped++;
          half[i] = toHalfBits(Math.max(-65504, Math.min(65504, v)));
        }
        const h = makeTensor(fresh(`${name}_fp16`), dimsOf(t), half, DataType.FLOAT16);
        cast = fresh(`${name}_fp32`);
        g.initializer!.push(h);
        g.node!.push(makeNode('Cast', [h.name!], [cast], { to: DataType.FLOAT }, fresh(`${name}_Cast`)));
        converted.set(name, cast);
      }
      ins[k] = cast;
    }
  }
  removeUnusedInitializers(g);
  topoSort(g);
  return { converted_initializers: converted.size, clipped_values: clipped, compute: 'float32' };
}

/** A float32 initializer or attribute tensor re-encoded as float16 (values beyond ±65504 are clipped). */
function halfTensor(t: TensorProto, name: string): { tensor: TensorProto; clipped: number } {
  const data = tensorToFloat32(t);
  const half = new Uint16Array(data.length);
  let clipped = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (Math.abs(v) > 65504) clipped++;
    half[i] = toHalfBits(Math.max(-65504, Math.min(65504, v)));
  }
  return { tensor: makeTensor(name, dimsOf(t), half, DataType.FLOAT16), clipped };
}

/**
 * Convert the whole graph to float16 for GPU providers: every float32 initializer, constant and
 * internal Cast becomes float16; the model's float32 inputs and outputs are kept, with a Cast at each
 * boundary, so callers and config.yaml do not change. (On CPU onnxruntime falls back to float32
 * kernels with casts around them: correct, but not faster.)
 */
export function convertToFp16(model: ModelProto): Fp16Summary {
  const g = graphOf(model);
  inlineIdentityInitializers(g);
  foldBatchNorm(g);
  const fresh = uniqueNamer(g);
  let clipped = 0;
  let converted = 0;
  g.initializer = (g.initializer ?? []).map((t) => {
    if (t.dataType !== DataType.FLOAT) return t;
    const h = halfTensor(t, t.name ?? '');
    clipped += h.clipped;
    converted++;
    return h.tensor;
  });
  for (const n of g.node ?? []) {
    for (const a of n.attribute ?? []) {
      if (a.t && a.t.dataType === DataType.FLOAT && (n.opType === 'Constant' || n.opType === 'ConstantOfShape')) {
        const h = halfTensor(a.t, a.t.name ?? '');
        clipped += h.clipped;
        a.t = h.tensor;
      }
      if (n.opType === 'Cast' && a.name === 'to' && Number(a.i) === DataType.FLOAT) a.i = DataType.FLOAT16;
    }
  }
  const boundary: NodeProto[] = [];
  for (const input of g.input ?? []) {
    const name = input.name ?? '';
    if (input.type?.tensorType?.elemType !== DataType.FLOAT) continue;
    const half = fresh(`${name}_fp16`);
    renameInput(g, name, half);
    boundary.push(makeNode('Cast', [name], [half], { to: DataType.FLOAT16 }, fresh(`${name}_to_fp16`)));
  }
  const producers = producerMap(g);
  for (const output of g.output ?? []) {
    const name = output.name ?? '';
    const p = producers.get(name);
    if (output.type?.tensorType?.elemType !== DataType.FLOAT || !p) continue;
    const half = fresh(`${name}_fp16`);
    const outs = outputsOf(p);
    outs[outs.indexOf(name)] = half;
    renameInput(g, name, half);
    boundary.push(makeNode('Cast', [half], [name], { to: DataType.FLOAT }, fresh(`${name}_to_fp32`)));
  }
  g.node!.push(...boundary);
  // Intermediate type annotations would still say float32.
  g.valueInfo = [];
  topoSort(g);
  return { converted_initializers: converted, clipped_values: clipped, compute: 'float16' };
}
