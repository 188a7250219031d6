/**
 * Program and usage errors: one class, stable codes, made here and documented in
 * docs/errors.md (a test fails when the two drift). Stream faults are not errors: they are
 * StreamEvents (see ingest/media.ts).
 */
/**
 * One definition per code: what it means and the HTTP status the API answers with it, made
 * where the code is defined (as Fastify's `createError(code, message, statusCode)`), so a new
 * code cannot be added without deciding how the API reports it. 500 is for faults of the
 * service itself; the API never shows their message (it stays in the log).
 */
function code(message: string, status: number): { readonly message: string; readonly status: number } {
  return { message, status };
}

export const ERROR_CODES = {
  SQM_ERR_FFMPEG_MISSING: code("ffmpeg was not found", 500),
  SQM_ERR_FFMPEG_TOO_OLD: code("ffmpeg is older than 5.1", 500),
  SQM_ERR_INPUT_UNREADABLE: code("the input could not be opened or decoded", 422),
  SQM_ERR_INPUT_UNSUPPORTED: code("the input URL scheme is not supported", 400),
  SQM_ERR_USAGE: code("the command line (or a request) is not valid", 400),
  SQM_ERR_CONFIG: code("the configuration is not valid", 400),
  SQM_ERR_CLOSED: code("the object was used after close()", 503),
  SQM_ERR_DEFECT_SPEC: code("a --defects list is not valid", 400),
  SQM_ERR_GEN_FAILED: code("ffmpeg failed to generate a test clip", 500),
  SQM_ERR_NOT_FOUND: code("the requested object does not exist", 404),
  SQM_ERR_FORBIDDEN_URL: code("the URL is not allowed by the configuration", 400),
  SQM_ERR_CONFLICT: code("the object conflicts with an existing one (e.g. a stream name is taken)", 409),
  SQM_ERR_STORE: code("the database could not be opened, migrated or reached", 503),
  SQM_ERR_BLOB_KEY: code("a blob key is not valid (empty, absolute, or escapes the store)", 500),
  SQM_ERR_BLOB_STORE: code("the blob store (directory or S3 bucket) refused a request", 503),
  SQM_ERR_PLAYLIST_PARSE: code("an HLS playlist does not follow RFC 8216", 422),
  SQM_ERR_INVALID_CURSOR: code("a pagination cursor is not valid", 400),
  SQM_ERR_EVAL_FAILED: code(
    "the evaluation could not run a clip through streamqc or the FFmpeg baseline",
    500,
  ),
  SQM_ERR_FENCED: code(
    "a worker's write for a stream was refused: its lease (stream, epoch) is no longer held",
    409,
  ),
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

  /** The HTTP status the API answers with this error (see ERROR_CODES). */
  get statusCode(): number {
    return ERROR_CODES[this.code].status;
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
