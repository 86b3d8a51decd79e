/** Liveness and readiness of the server, as the health endpoints and the CLI report them. */
import type { InferenceService, ModelVersionStatus } from '../serving/inference-service.ts';
import { hasModelControl } from '../serving/model-control.ts';

export interface Health {
  /** The process answers. */
  readonly live: boolean;
  /** Every model asked for has a READY version and the server is not shutting down. */
  readonly ready: boolean;
  readonly models: readonly ModelVersionStatus[];
}

/** Current health; `closing` is true once shutdown started. */
export function healthOf(service: InferenceService, closing: boolean): Health {
  const models = service.status();
  const ready = !closing && (hasModelControl(service) ? service.isReady() : models.every((m) => m.state === 'READY'));
  return { live: true, ready, models };
}
