/** Check that ONNX bytes load in the inference engine before they are written into a repository. */
import { LsError } from '../core/errors.ts';
import { getBackend } from '../runtime/index.ts';

/** Load the model once (and release it); throws LS_ERR_MODEL_CORRUPT with the engine's reason. */
export async function verifyLoads(onnx: Uint8Array, subject: string): Promise<void> {
  let session;
  try {
    session = await (await getBackend()).load(onnx);
  } catch (e) {
    throw new LsError('LS_ERR_MODEL_CORRUPT', `the generated model does not load, nothing was written: ${(e as Error).message}`, { subject });
  } finally {
    await session?.dispose();
  }
}
