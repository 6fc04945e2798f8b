import type { ErrorObject } from 'ajv';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type FieldError } from '../errors/app-error.ts';
import type { ErrorCode } from '../errors/codes.ts';
import type { ProblemBody } from './schemas.ts';

export function problemBody(error: AppError, requestId: string): ProblemBody {
  return {
    type: `urn:latchkey:problem:${error.code}`,
    title: error.title,
    status: error.status,
    detail: error.message,
    code: error.code,
    requestId,
    ...(error.errors ? { errors: [...error.errors] } : {}),
  };
}

export function sendProblem(reply: FastifyReply, error: AppError): FastifyReply {
  for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
  if (error.status === 401 && !reply.hasHeader('www-authenticate')) {
    reply.header(
      'www-authenticate',
      `Bearer realm="latchkey", error="invalid_token", error_description="${error.code}"`,
    );
  }
  return reply
    .code(error.status)
    .type('application/problem+json')
    .serializer(JSON.stringify)
    .send(problemBody(error, String(reply.request.id)));
}

function fieldErrors(context: string, errors: readonly ErrorObject[]): FieldError[] {
  const part = context === 'querystring' ? 'query' : context;
  return errors.map((e) => {
    const params = e.params as Record<string, unknown>;
    if (e.keyword === 'additionalProperties') {
      return {
        location: `/${part}${e.instancePath}/${String(params.additionalProperty)}`,
        message: 'unknown field',
      };
    }
    if (e.keyword === 'required') {
      return {
        location: `/${part}${e.instancePath}/${String(params.missingProperty)}`,
        message: 'is required',
      };
    }
    return { location: `/${part}${e.instancePath}`, message: e.message ?? 'is invalid' };
  });
}

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed_json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_CTP_EMPTY_TYPE: 'unsupported_media_type',
};

/** Maps every failure to problem+json; unknown failures are logged and answered as a bare 500. */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof AppError) return sendProblem(reply, error);
    if (error.validation) {
      const errors = fieldErrors(error.validationContext ?? 'body', error.validation as ErrorObject[]);
      return sendProblem(
        reply,
        new AppError(
          'validation_failed',
          `The request ${error.validationContext ?? 'body'} is invalid: ${errors.map((e) => `${e.location} ${e.message}`).join('; ')}`,
          { errors },
        ),
      );
    }
    const mapped = error.code ? FASTIFY_CODES[error.code] : undefined;
    if (mapped) return sendProblem(reply, new AppError(mapped, error.message));
    if (error instanceof SyntaxError && error.statusCode === 400) {
      return sendProblem(reply, new AppError('malformed_json', 'The request body is not valid JSON'));
    }
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      return sendProblem(reply, new AppError('bad_request', error.message));
    }
    request.log.error({ err: error }, 'unhandled error');
    return sendProblem(reply, new AppError('internal_error', 'An unexpected error occurred'));
  });

  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      reply,
      new AppError('route_not_found', `No route for ${request.method} ${request.url.split('?')[0]}`),
    ),
  );
}
