/**
 * fp16 weight conversion: every float32 initializer of a Conv/Gemm/MatMul weight or bias is stored
 * as float16 and cast back to float32 at load time (a Cast node the engine folds once). The file is
 * half the size and inputs/outputs stay float32, so the model runs unchanged on CPU and GPU providers.
 */
import { foldBatchNorm } from './fold-bn.ts';
import { dimsOf, graphOf, initializerMap, inlineIdentityInitializers, inputsOf, removeUnusedInitializers, topoSort, uniqueNamer } from './graph.ts';
import { DataType, makeNode, makeTensor, tensorToFloat32, type ModelProto } from './proto.ts';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 binary16 bits of a number (round to nearest even; overflow to ±Inf). */
export function toHalfBits(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return sign | half;
}

/** The number a binary16 bit pattern stands for. */
export function fromHalfBits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** What fp16 conversion changed. */
export interface Fp16Summary {
  readonly converted_initializers: number;
  /** Values that were beyond the float16 range and became ±65504. */
  readonly clipped_values: number;
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
  return { converted_initializers: converted.size, clipped_values: clipped };
}
