/**
 * Program and usage errors: one class, stable codes, made here and documented in
 * docs/errors.md (a test fails when the two drift). Stream faults are not errors: they are
 * StreamEvents (see ingest/media.ts).
 */
export const ERROR_CODES = {
  SQM_ERR_FFMPEG_MISSING: "ffmpeg was not found",
  SQM_ERR_FFMPEG_TOO_OLD: "ffmpeg is older than 5.1",
  SQM_ERR_INPUT_UNREADABLE: "the input could not be opened or decoded",
  SQM_ERR_INPUT_UNSUPPORTED: "the input URL scheme is not supported",
  SQM_ERR_USAGE: "the command line is not valid",
  SQM_ERR_CONFIG: "the configuration is not valid",
  SQM_ERR_CLOSED: "the object was used after close()",
  SQM_ERR_DEFECT_SPEC: "a --defects list is not valid",
  SQM_ERR_GEN_FAILED: "ffmpeg failed to generate a test clip",
  SQM_ERR_NOT_FOUND: "the requested object does not exist",
  SQM_ERR_FORBIDDEN_URL: "the URL is not allowed by the configuration",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class StreamqcError extends Error {
  override readonly name = "StreamqcError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isStreamqcError(err: unknown, code?: ErrorCode): err is StreamqcError {
  return err instanceof StreamqcError && (code === undefined || err.code === code);
}

/** Message of anything thrown, for logs and events. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
