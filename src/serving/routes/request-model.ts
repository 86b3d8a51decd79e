/** Which model version served a request, for the request counter (set by the inference routes). */
import type { FastifyRequest } from 'fastify';

export const servedVersionOf = new WeakMap<FastifyRequest, number>();
