/**
 * What the CPU offers for inference: the vector/integer instruction sets onnxruntime's kernels use
 * (AVX2, AVX-512, VNNI for int8 dot products, BF16/AMX), read from /proc/cpuinfo on Linux.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** Flags that matter for inference speed, with what each one buys. */
export const INFERENCE_FLAGS: Readonly<Record<string, string>> = {
  avx2: 'fp32 SIMD (256-bit)',
  fma: 'fused multiply-add',
  avx512f: 'fp32 SIMD (512-bit)',
  avx512bw: '8/16-bit integer SIMD (512-bit)',
  avx512_vnni: 'int8 dot products (fast QLinearConv/QGemm)',
  avx_vnni: 'int8 dot products (256-bit)',
  avx512_bf16: 'bfloat16 arithmetic',
  avx512_fp16: 'float16 arithmetic',
  amx_int8: 'AMX int8 tiles',
  amx_bf16: 'AMX bfloat16 tiles',
};

/** CPU facts for `linesight doctor`. */
export interface CpuFeatures {
  readonly model: string;
  readonly arch: string;
  /** Logical CPUs this process may use. */
  readonly logical_cpus: number;
  /** Physical cores, when /proc/cpuinfo tells (onnxruntime's default intra-op thread count). */
  readonly physical_cores: number | undefined;
  /** Inference-relevant flags present (keys of INFERENCE_FLAGS). */
  readonly flags: readonly string[];
  readonly int8_dot_product: boolean;
}

/** Parse /proc/cpuinfo text (pure; tests pass their own text). */
export function parseCpuInfo(text: string): { model?: string; flags: Set<string>; physicalCores?: number } {
  const blocks = text.split(/\n\s*\n/).filter((b) => b.trim());
  let model: string | undefined;
  const flags = new Set<string>();
  const cores = new Set<string>();
  for (const b of blocks) {
    const fields = new Map<string, string>();
    for (const line of b.split('\n')) {
      const i = line.indexOf(':');
      if (i > 0) fields.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
    }
    model ??= fields.get('model name');
    for (const f of (fields.get('flags') ?? fields.get('Features') ?? '').split(/\s+/)) if (f) flags.add(f);
    const core = fields.get('core id');
    if (core !== undefined) cores.add(`${fields.get('physical id') ?? '0'}:${core}`);
  }
  return { ...(model ? { model } : {}), flags, ...(cores.size ? { physicalCores: cores.size } : {}) };
}

/** The CPU features of this machine (flags empty where /proc/cpuinfo does not exist). */
export function cpuFeatures(readCpuInfo: () => string = () => readFileSync('/proc/cpuinfo', 'utf8')): CpuFeatures {
  let parsed: ReturnType<typeof parseCpuInfo> = { flags: new Set() };
  try {
    parsed = parseCpuInfo(readCpuInfo());
  } catch {
    // not Linux: only what node:os knows
  }
  const flags = Object.keys(INFERENCE_FLAGS).filter((f) => parsed.flags.has(f));
  return {
    model: parsed.model ?? os.cpus()[0]?.model ?? 'unknown',
    arch: os.arch(),
    logical_cpus: os.availableParallelism(),
    physical_cores: parsed.physicalCores,
    flags,
    int8_dot_product: flags.includes('avx512_vnni') || flags.includes('avx_vnni') || parsed.flags.has('asimddp'),
  };
}
