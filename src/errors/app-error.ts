import { type ErrorCode, errorCodes } from './codes.ts';

export interface FieldError {
  /** JSON pointer into the request part, prefixed by the part: `/body/email`, `/query/limit`. */
  location: string;
  message: string;
}

/**
 * The one error type domain code throws. The HTTP status and title come from
 * the code registry so a throw site cannot disagree with the documentation.
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly title: string;
  readonly errors: readonly FieldError[] | undefined;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    code: ErrorCode,
    detail?: string,
    options: { errors?: readonly FieldError[]; headers?: Record<string, string> } = {},
  ) {
    const spec = errorCodes[code];
    super(detail ?? spec.title);
    this.name = 'AppError';
    this.code = code;
    this.status = spec.status;
    this.title = spec.title;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
  }
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}
