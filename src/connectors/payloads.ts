/**
 * Schemas of the MQTT payloads LineSight accepts. Every message is validated here before anything
 * else touches it; what fails goes to the dead-letter table with the reason.
 *
 * Message ids (for idempotent QoS 1 redelivery), first found wins:
 *  1. `msg_id` in the JSON payload (sensors, image envelope, truth);
 *  2. the MQTT v5 user property `msg_id`;
 *  3. a SHA-1 of topic + payload: a redelivered message has the same bytes, so the same id.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

/** Machine readings: `{machine?, ts?, msg_id?, type?, values: {name: finite number}}` (ts in ms since epoch). */
export const sensorPayloadSchema = z.strictObject({
  machine: z.string().min(1).max(64).optional(),
  ts: z.number().int().positive().optional(),
  msg_id: z.string().min(1).max(128).optional(),
  type: z.enum(['L', 'M', 'H']).optional(),
  // z.number() refuses NaN, Infinity and strings: a broken sensor value is dead-lettered, not fed to a model
  values: z.record(z.string().min(1).max(64), z.number()).refine((v) => Object.keys(v).length > 0 && Object.keys(v).length <= 64, 'between 1 and 64 values'),
});
export type SensorPayload = z.infer<typeof sensorPayloadSchema>;

/** The JSON envelope for images from MQTT 3.1.1 clients (no user properties). */
export const imageEnvelopeSchema = z.strictObject({
  part_id: z.string().min(1).max(128),
  ts: z.number().int().positive().optional(),
  msg_id: z.string().min(1).max(128).optional(),
  /** Accepted for senders that set it; the stored type always comes from the image bytes. */
  content_type: z.string().max(64).optional(),
  image_b64: z.string().min(1),
});

/** Properties of a binary image message sent with MQTT v5 user properties. */
export const imagePropsSchema = z.object({
  part_id: z.string().min(1).max(128),
  ts: z.coerce.number().int().positive().optional(),
  msg_id: z.string().min(1).max(128).optional(),
});

/** Ground truth for a part (published by QA stations or the simulator). */
export const truthPayloadSchema = z.strictObject({
  part_id: z.string().min(1).max(128),
  true_label: z.string().min(1).max(128),
  by: z.string().min(1).max(128).optional(),
  msg_id: z.string().min(1).max(128).optional(),
});

/**
 * The outcome of one machine reading, on `linesight/{line}/{machine}/truth`: did that run fail (and in
 * which modes)? Published by the machine's PLC or the maintenance system; the ground truth that live
 * predictive-maintenance metrics are measured against.
 */
export const machineTruthPayloadSchema = z.strictObject({
  reading_msg_id: z.string().min(1).max(128),
  failure: z.union([z.boolean(), z.literal(0), z.literal(1)]).transform((v) => v === true || v === 1),
  modes: z.array(z.string().min(1).max(32)).max(8).optional(),
  by: z.string().min(1).max(128).optional(),
  msg_id: z.string().min(1).max(128).optional(),
});

/** A stable message id from the payload bytes when the publisher gave none. */
export function contentMsgId(topic: string, payload: Uint8Array): string {
  return createHash('sha1').update(topic).update('\u0000').update(payload).digest('base64url');
}

/** MQTT v5 user properties as a flat string map (a repeated key keeps its first value). */
export function userProps(props: Record<string, string | string[]> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(props ?? {})) out[k] = Array.isArray(v) ? (v[0] ?? '') : v;
  return out;
}

/** The content type of an image from its magic bytes (JPEG, PNG, BMP, TIFF). */
export function sniffImageType(b: Uint8Array): string | undefined {
  if (b[0] === 0xff && b[1] === 0xd8) return 'image/jpeg';
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'image/png';
  if (b[0] === 0x42 && b[1] === 0x4d) return 'image/bmp';
  if ((b[0] === 0x49 && b[1] === 0x49) || (b[0] === 0x4d && b[1] === 0x4d)) return 'image/tiff';
  return undefined;
}
