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
  SQM_ERR_CONFLICT: "the object conflicts with an existing one (e.g. a stream name is taken)",
  SQM_ERR_STORE: "the database could not be opened, migrated or reached",
  SQM_ERR_BLOB_KEY: "a blob key is not valid (empty, absolute, or escapes the store)",
  SQM_ERR_BLOB_STORE: "the blob store (directory or S3 bucket) refused a request",
  SQM_ERR_PLAYLIST_PARSE: "an HLS playlist does not follow RFC 8216",
  SQM_ERR_INVALID_CURSOR: "a pagination cursor is not valid",
  SQM_ERR_EVAL_FAILED: "the evaluation could not run a clip through streamqc or the FFmpeg baseline",
  SQM_ERR_FENCED: "a worker's write for a stream was refused: its lease (stream, epoch) is no longer held",
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
  if (!(err instanceof Error)) return String(err);
  // fetch() says only "fetch failed"; the reason a person can act on is in its cause.
  const cause = err.cause instanceof Error ? err.cause.message : undefined;
  return cause && !err.message.includes(cause) ? `${err.message}: ${cause}` : err.message;
}
