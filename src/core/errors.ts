/**
 * The one error catalogue of LineSight. Every error a user can see has a stable
 * code (`LS_ERR_*`), an HTTP status and a one-line message a plant engineer
 * understands. docs/errors.md lists the same codes; a test keeps the two in step.
 */

export interface ErrorSpec {
  readonly status: number;
  readonly message: string;
}

export const ERRORS = {
  // --- input data -----------------------------------------------------------
  LS_ERR_IMAGE_EMPTY: { status: 400, message: 'the image is empty (zero bytes)' },
  LS_ERR_IMAGE_CORRUPT: { status: 400, message: 'the image cannot be decoded: it is corrupt or truncated' },
  LS_ERR_IMAGE_FORMAT: { status: 415, message: 'unsupported image format (use JPEG, PNG, BMP or TIFF)' },
  LS_ERR_FILE_NOT_FOUND: { status: 404, message: 'file not found' },
  LS_ERR_FILE_READ: { status: 400, message: 'the file cannot be read' },
  LS_ERR_BAD_REQUEST: { status: 400, message: 'the request is malformed' },
  LS_ERR_BAD_JSON: { status: 400, message: 'the body is not valid JSON' },
  LS_ERR_VALIDATION: { status: 400, message: 'the input does not match the expected schema' },
  LS_ERR_CONTENT_TYPE: { status: 415, message: 'unsupported Content-Type' },
  LS_ERR_PAYLOAD_TOO_LARGE: { status: 413, message: 'the body is larger than the configured limit' },
  LS_ERR_TENSOR_DATATYPE: { status: 400, message: 'tensor datatype does not match the model input' },
  LS_ERR_TENSOR_SHAPE: { status: 400, message: 'tensor shape does not match the model input or the data length' },
  LS_ERR_TENSOR_NONFINITE: { status: 400, message: 'tensor contains NaN or Infinity, which this model does not accept' },
  LS_ERR_CSV: { status: 400, message: 'the CSV file cannot be used' },
  LS_ERR_DATASET: { status: 400, message: 'the data set cannot be used' },

  // --- models and the repository -------------------------------------------
  LS_ERR_REPO_NOT_FOUND: { status: 500, message: 'model repository folder not found' },
  LS_ERR_MODEL_NAME: { status: 400, message: 'invalid model name (letters, digits, ".", "_" and "-" only)' },
  LS_ERR_MODEL_NOT_FOUND: { status: 404, message: 'model not found in the repository' },
  LS_ERR_VERSION_NOT_FOUND: { status: 404, message: 'model version not found' },
  LS_ERR_MODEL_NOT_READY: { status: 503, message: 'model is not loaded and ready' },
  LS_ERR_CONFIG_INVALID: { status: 500, message: 'model config.yaml is invalid' },
  LS_ERR_MODEL_CORRUPT: { status: 500, message: 'the ONNX model file cannot be loaded: it is corrupt or not ONNX' },
  LS_ERR_MODEL_MISMATCH: { status: 500, message: 'the ONNX model inputs/outputs disagree with config.yaml' },
  LS_ERR_MODEL_UNSUPPORTED: { status: 422, message: 'the model uses operators or types this tool cannot handle' },
  LS_ERR_MODEL_SIGNATURE: { status: 403, message: 'the model signature is missing or does not match its files' },
  LS_ERR_PROVIDER: { status: 500, message: 'execution provider unavailable' },
  LS_ERR_INFERENCE: { status: 500, message: 'the inference engine failed on this input' },

  // --- serving and scheduling ----------------------------------------------
  LS_ERR_QUEUE_FULL: { status: 503, message: 'the model queue is full; retry shortly' },
  LS_ERR_TIMEOUT: { status: 504, message: 'the request timed out waiting for the model' },
  LS_ERR_SHUTTING_DOWN: { status: 503, message: 'the server is shutting down' },
  LS_ERR_NOT_FOUND: { status: 404, message: 'no such resource' },

  // --- line, streams and storage ------------------------------------------
  LS_ERR_LINE_CONFIG: { status: 500, message: 'line.yaml is invalid' },
  LS_ERR_PORT_IN_USE: { status: 500, message: 'the port is already in use' },
  LS_ERR_BROKER: { status: 503, message: 'the message broker (MQTT or NATS) cannot be reached' },
  LS_ERR_STORE: { status: 503, message: 'the data store failed' },
  LS_ERR_UNKNOWN_SOURCE: { status: 400, message: 'unknown line, station or machine' },

  // --- training ------------------------------------------------------------
  LS_ERR_TRAINING: { status: 400, message: 'training cannot proceed with this data' },

  // --- security ------------------------------------------------------------
  LS_ERR_UNAUTHENTICATED: { status: 401, message: 'authentication required: send a valid token' },
  LS_ERR_FORBIDDEN: { status: 403, message: 'this token does not allow that action' },
  LS_ERR_RATE_LIMITED: { status: 429, message: 'too many failed attempts; wait and retry' },
  LS_ERR_PATH_TRAVERSAL: { status: 400, message: 'path leaves the allowed folder' },
  LS_ERR_CRYPTO: { status: 500, message: 'data cannot be decrypted with the configured key' },
  LS_ERR_AUDIT_TAMPERED: { status: 500, message: 'the audit log has been altered' },
  LS_ERR_SECURITY_CONFIG: { status: 500, message: 'a security file (tokens, keys, users, certificates) is missing or invalid' },
  LS_ERR_KEY_IN_USE: { status: 409, message: 'a running LineSight holds this data key' },

  // --- anything else ------------------------------------------------------
  LS_ERR_INTERNAL: { status: 500, message: 'internal error' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** An error a user sees: stable code, HTTP status, catalogue message plus detail. */
export class LsError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** What is at fault: a file path, a field, a model name. */
  readonly subject: string | undefined;
  readonly detail: string | undefined;

  constructor(code: ErrorCode, detail?: string, options?: { subject?: string; cause?: unknown }) {
    const spec = ERRORS[code];
    super(detail ? `${spec.message}: ${detail}` : spec.message, { cause: options?.cause });
    this.name = 'LsError';
    this.code = code;
    this.status = spec.status;
    this.detail = detail;
    this.subject = options?.subject;
  }

  /** One line for a terminal or a log: `LS_ERR_X: message (subject)`. */
  toLine(): string {
    return `${this.code}: ${this.message}${this.subject ? ` (${this.subject})` : ''}`;
  }

  toJSON(): { code: ErrorCode; error: string; subject?: string } {
    return { code: this.code, error: this.message, ...(this.subject ? { subject: this.subject } : {}) };
  }
}

export function isLsError(e: unknown): e is LsError {
  return e instanceof LsError;
}

/** Wrap anything thrown into an LsError, keeping LsErrors as they are. */
export function toLsError(e: unknown, fallback: ErrorCode = 'LS_ERR_INTERNAL', subject?: string): LsError {
  if (e instanceof LsError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new LsError(fallback, msg, { subject, cause: e });
}
