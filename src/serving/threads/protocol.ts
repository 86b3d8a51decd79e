/** Messages between a ThreadedSession and its worker thread. */
import type { SessionOptions } from '../../runtime/backend.ts';
import type { IoInfo, Tensor } from '../../runtime/tensor.ts';

export type ToWorker =
  | { type: 'load'; model: string | Uint8Array; options: Omit<SessionOptions, 'onProviderFallback'> }
  | { type: 'run'; id: number; feeds: Record<string, Tensor>; outputNames?: readonly string[] }
  | { type: 'dispose' };

export type FromWorker =
  | { type: 'loaded'; inputs: IoInfo[]; outputs: IoInfo[]; provider: string; fallbacks: Array<[string, string]> }
  | { type: 'ran'; id: number; outputs: Record<string, Tensor> }
  | { type: 'error'; id?: number; code: string; message: string; detail?: string; subject?: string }
  | { type: 'disposed' };
