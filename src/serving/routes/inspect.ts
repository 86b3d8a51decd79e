/**
 * `POST /v1/inspect/{m}`: the endpoint a camera station calls. The body is the image itself
 * (Content-Type image/*: JPEG, PNG, BMP, TIFF); the answer is the label, probabilities, decision,
 * model version and per-stage latency. Each inspection is handed to `onInspection` (e.g. the line
 * stores it) and published on the event bus when there is one.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { LsError } from '../../core/errors.ts';
import type { Clock } from '../../core/clock.ts';
import { systemClock } from '../../core/clock.ts';
import { parseWith } from '../../core/validate.ts';
import type { InspectionEvent } from '../../line/events.ts';
import { assertModelName, parseVersion } from '../../repository/repository.ts';
import { servedVersionOf } from './request-model.ts';

/** One inspection made over HTTP, with the image bytes, for whoever stores or streams it. */
export interface HttpInspection {
  readonly event: InspectionEvent;
  readonly image: Uint8Array;
  readonly contentType: string;
}

export interface InspectRouteOptions {
  /** Awaited before the answer is sent: a failure here fails the request, so nothing answered is lost. */
  readonly onInspection?: (i: HttpInspection) => void | Promise<void>;
  /** Largest image body in bytes. */
  readonly imageBodyLimit?: number;
  readonly clock?: Clock;
}

const query = z.object({
  part_id: z.string().min(1).max(128).regex(/^[\w.:-]+$/, 'letters, digits, ".", "_", ":" and "-" only').optional(),
  line: z.string().min(1).max(64).regex(/^[\w.-]+$/).optional(),
  station: z.string().min(1).max(64).regex(/^[\w.-]+$/).optional(),
  version: z.string().regex(/^\d{1,9}$/).optional(),
});

export const inspectRoutes: FastifyPluginAsync<InspectRouteOptions> = async (app, opts) => {
  const { service, bus } = app.linesight;
  const clock = opts.clock ?? systemClock;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(/^image\/[\w.+-]+$/i, { parseAs: 'buffer', ...(opts.imageBodyLimit ? { bodyLimit: opts.imageBodyLimit } : {}) }, (_req, body, done) =>
    done(null, body),
  );

  app.post<{ Params: { m: string } }>(
    '/v1/inspect/:m',
    { config: { role: 'inspector', lineParam: 'line', metricsEndpoint: 'inspect' } },
    async (req) => {
      const { m } = req.params;
      assertModelName(m);
      const q = parseWith(query, req.query);
      const contentType = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (!contentType.startsWith('image/')) throw new LsError('LS_ERR_CONTENT_TYPE', `send the image with Content-Type image/* (got "${contentType.slice(0, 60) || 'none'}")`);
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      if (body.length === 0) throw new LsError('LS_ERR_IMAGE_EMPTY', undefined, { subject: q.part_id });
      const version = q.version === undefined ? undefined : parseVersion(q.version);
      const part_id = q.part_id ?? randomUUID();
      const r = await service.inspectImage(m, body, { ...(version !== undefined ? { version } : {}), subject: part_id });
      const p = r.prediction;
      servedVersionOf.set(req, p.version);
      const label = p.label ?? String(p.score ?? '');
      const probability = p.probability ?? p.score ?? 0;
      const event: InspectionEvent = {
        type: 'inspection',
        ts: clock.now(),
        line: q.line ?? 'default',
        station: q.station ?? 'http',
        part_id,
        model: p.model,
        version: p.version,
        label,
        probability,
        decision: p.decision,
        reason: p.reason,
        latency_ms: r.timings.total_ms,
        has_image: opts.onInspection !== undefined,
      };
      await opts.onInspection?.({ event, image: body, contentType });
      bus?.publish(event);
      return {
        model: p.model,
        version: p.version,
        part_id,
        label,
        probability,
        top: p.top ?? [],
        probabilities: p.probabilities ?? {},
        decision: p.decision,
        reason: p.reason,
        timings: r.timings,
      };
    },
  );
};
