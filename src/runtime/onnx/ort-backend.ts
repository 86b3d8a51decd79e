/** The onnxruntime-node implementation of the inference backend. */
import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import * as ort from 'onnxruntime-node';
import { LsError } from '../../core/errors.ts';
import type { InferenceBackend, InferenceSession, ProviderInfo, SessionOptions } from '../backend.ts';
import type { Datatype, IoInfo, Tensor, TensorData } from '../tensor.ts';

const ORT_TO_V2: Record<string, Datatype> = {
  float32: 'FP32', float64: 'FP64', float16: 'FP16', uint8: 'UINT8', int8: 'INT8', uint16: 'UINT16', int16: 'INT16',
  uint32: 'UINT32', int32: 'INT32', uint64: 'UINT64', int64: 'INT64', bool: 'BOOL', string: 'BYTES',
};
const V2_TO_ORT: Record<Datatype, ort.Tensor.Type> = {
  FP32: 'float32', FP64: 'float64', FP16: 'float16', UINT8: 'uint8', INT8: 'int8', UINT16: 'uint16', INT16: 'int16',
  UINT32: 'uint32', INT32: 'int32', UINT64: 'uint64', INT64: 'int64', BOOL: 'bool', BYTES: 'string',
};

/** Dimension sizes as numbers; symbolic or unknown dimensions become -1. */
function toShape(dims: ReadonlyArray<number | string>): number[] {
  return dims.map((d) => (typeof d === 'number' && d >= 0 ? d : -1));
}

function toIoInfo(meta: ort.InferenceSession.ValueMetadata): IoInfo {
  if (!meta.isTensor) return { name: meta.name, datatype: 'UNKNOWN', shape: [] };
  return { name: meta.name, datatype: ORT_TO_V2[meta.type] ?? 'UNKNOWN', shape: toShape(meta.shape) };
}

function toOrtTensor(t: Tensor): ort.Tensor {
  const type = V2_TO_ORT[t.datatype];
  // onnxruntime wants BOOL as a Uint8Array tagged 'bool' and FP16 as raw Uint16 bits.
  return new ort.Tensor(type, t.data as never, t.shape as number[]);
}

function fromOrtTensor(t: ort.Tensor): Tensor {
  const datatype = ORT_TO_V2[t.type];
  if (!datatype) throw new LsError('LS_ERR_MODEL_UNSUPPORTED', `output type ${t.type}`);
  let data = t.data as TensorData;
  if (datatype === 'BOOL' && !(data instanceof Uint8Array)) data = Uint8Array.from(data as unknown as ArrayLike<number>);
  return { datatype, shape: [...t.dims], data };
}

class OrtSession implements InferenceSession {
  readonly inputs: readonly IoInfo[];
  readonly outputs: readonly IoInfo[];
  private disposed = false;

  constructor(private readonly session: ort.InferenceSession, readonly provider: string) {
    this.inputs = session.inputMetadata.map(toIoInfo);
    this.outputs = session.outputMetadata.map(toIoInfo);
  }

  async run(feeds: Readonly<Record<string, Tensor>>, outputNames?: readonly string[]): Promise<Record<string, Tensor>> {
    if (this.disposed) throw new LsError('LS_ERR_MODEL_NOT_READY', 'the session was released');
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = toOrtTensor(v);
    let result: ort.InferenceSession.ReturnType;
    try {
      result = outputNames ? await this.session.run(ortFeeds, outputNames as string[]) : await this.session.run(ortFeeds);
    } catch (e) {
      throw new LsError('LS_ERR_INFERENCE', (e as Error).message.split('\n')[0]);
    }
    const out: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(result)) out[k] = fromOrtTensor(v);
    return out;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.session.release();
  }
}

class OrtBackend implements InferenceBackend {
  readonly name = 'onnxruntime';
  readonly version: string;

  constructor() {
    const require = createRequire(import.meta.url);
    this.version = (require('onnxruntime-node/package.json') as { version: string }).version;
  }

  providers(): readonly ProviderInfo[] {
    return ort.listSupportedBackends().map((b) => ({
      name: b.name,
      available: b.bundled && b.name !== 'webgpu',
      note: b.bundled
        ? b.name === 'webgpu' ? 'bundled, but needs a GPU device and is not used by LineSight' : 'bundled'
        : 'needs the separate GPU binaries of onnxruntime-node and a GPU; not installed on this machine',
    }));
  }

  async load(model: string | Uint8Array, options: SessionOptions = {}): Promise<InferenceSession> {
    const subject = typeof model === 'string' ? model : undefined;
    let bytes: Uint8Array;
    if (typeof model === 'string') {
      try {
        bytes = await fs.readFile(model);
      } catch {
        throw new LsError('LS_ERR_FILE_NOT_FOUND', model, { subject: model });
      }
    } else {
      bytes = model;
    }
    if (bytes.byteLength === 0) throw new LsError('LS_ERR_MODEL_CORRUPT', 'the file is empty', { subject });

    const available = new Map(this.providers().map((p) => [p.name, p]));
    const wanted = [...(options.providers ?? ['cpu'])];
    const usable: string[] = [];
    for (const p of wanted) {
      const info = available.get(p);
      if (info?.available) usable.push(p);
      else options.onProviderFallback?.(p, info ? (info.note ?? 'unavailable') : 'unknown execution provider');
    }
    if (!usable.includes('cpu')) usable.push('cpu');

    // Try the providers in order; a provider that fails to initialise falls back to the next one.
    for (let i = 0; i < usable.length; i++) {
      const eps = usable.slice(i);
      try {
        const session = await ort.InferenceSession.create(bytes, {
          executionProviders: eps,
          graphOptimizationLevel: 'all',
          ...(options.intraOpThreads ? { intraOpNumThreads: options.intraOpThreads } : {}),
          ...(options.interOpThreads ? { interOpNumThreads: options.interOpThreads } : {}),
          // Writing the optimized graph is a diagnostic: onnxruntime's warning that it is hardware-specific is expected, so only errors are logged.
          ...(options.optimizedModelPath ? { optimizedModelFilePath: options.optimizedModelPath, logSeverityLevel: 3 as const } : {}),
        });
        return new OrtSession(session, eps[0]!);
      } catch (e) {
        const msg = (e as Error).message.split('\n')[0] ?? '';
        if (eps[0] === 'cpu') throw new LsError('LS_ERR_MODEL_CORRUPT', msg, { subject });
        options.onProviderFallback?.(eps[0]!, msg);
      }
    }
    throw new LsError('LS_ERR_PROVIDER', wanted.join(', '), { subject });
  }
}

let instance: OrtBackend | undefined;

/** The process-wide onnxruntime backend. */
export async function createOrtBackend(): Promise<InferenceBackend> {
  instance ??= new OrtBackend();
  return instance;
}
