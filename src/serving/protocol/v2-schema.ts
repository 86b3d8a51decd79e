/** The JSON shapes of the Open Inference Protocol v2 infer request (validated at the HTTP boundary). */
import { z } from 'zod';
import { DATATYPES } from '../../repository/manifest.ts';

const parameters = z.record(z.string(), z.unknown());

/** One input tensor of an infer request; `data` is checked against shape/datatype by the decoder. */
export const inferInputSchema = z.object({
  name: z.string().min(1).max(256),
  shape: z.array(z.number().int().min(0).max(2 ** 31)).max(16),
  datatype: z.enum(DATATYPES),
  parameters: parameters.optional(),
  data: z.unknown().optional(),
});
export type InferInput = z.infer<typeof inferInputSchema>;

export const inferOutputRequestSchema = z.object({
  name: z.string().min(1).max(256),
  parameters: parameters.optional(),
});

export const inferRequestSchema = z.object({
  id: z.string().max(256).optional(),
  parameters: parameters.optional(),
  inputs: z.array(inferInputSchema).min(1).max(64),
  outputs: z.array(inferOutputRequestSchema).max(64).optional(),
});
export type InferRequest = z.infer<typeof inferRequestSchema>;

/** One output tensor of an infer response. */
export interface InferOutput {
  name: string;
  shape: number[];
  datatype: string;
  parameters?: Record<string, unknown>;
  data?: unknown[];
}

export interface InferResponse {
  model_name: string;
  model_version: string;
  id?: string;
  parameters?: Record<string, unknown>;
  outputs: InferOutput[];
}
