/** Registers the built-in inference backends. Import once at start-up. */
import { registerBackend } from './backend.ts';
import { createOrtBackend } from './onnx/ort-backend.ts';

registerBackend('onnxruntime', createOrtBackend);

export { getBackend } from './backend.ts';
