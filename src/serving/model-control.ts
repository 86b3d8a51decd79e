/** Repository control beyond plain inference (load/unload/index, readiness), offered by the ModelManager. */
import type { IndexEntry } from './model-manager.ts';
import type { InferenceService } from './inference-service.ts';
import type { ModelStats } from './version-stats.ts';

export interface ModelControl {
  loadModel(name: string): Promise<void>;
  unloadModel(name: string): Promise<void>;
  index(opts?: { ready?: boolean }): Promise<IndexEntry[]>;
  isReady(): boolean;
  readyVersions(name: string): number[];
  stats(name?: string, version?: number): ModelStats[];
}

/** Whether a service also offers repository control. */
export function hasModelControl(s: InferenceService): s is InferenceService & ModelControl {
  const c = s as Partial<ModelControl>;
  return typeof c.loadModel === 'function' && typeof c.unloadModel === 'function' && typeof c.index === 'function' && typeof c.isReady === 'function';
}
