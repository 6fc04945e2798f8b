import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { buildEvent } from '../../domain/audit/events.ts';
import { isValidTimeZone } from '../../domain/rules/condition.ts';
import { DURATION_PATTERN, parseDuration } from '../../domain/shared/duration.ts';
import { AppError } from '../../errors/app-error.ts';
import { requestContext } from '../../http/context.ts';
import { IdParam, NoContent, OrgParams, Timestamp } from '../../http/schemas.ts';
import { isValidRange } from '../../net/cidr.ts';
import type { Services } from '../../services.ts';

const Settings = Type.Object(
  {
    timezone: Type.String({ maxLength: 64, description: 'IANA time zone, e.g. `Europe/Paris`.' }),
    businessStart: Type.Number({ minimum: 0, maximum: 24 }),
    businessEnd: Type.Number({ minimum: 0, maximum: 24 }),
    businessDays: Type.Array(Type.Integer({ minimum: 0, maximum: 6 }), {
      maxItems: 7,
      description: '0 = Sunday.',
    }),
  },
  { additionalProperties: false },
);
const IpBlock = Type.Object({
  id: Type.String(),
  range: Type.String(),
  global: Type.Boolean(),
  until: Timestamp,
  reason: Type.Union([Type.String(), Type.Null()]),
  ruleId: Type.Union([Type.String(), Type.Null()]),
  createdAt: Timestamp,
});
const tags = ['Detection'];

/** Detection settings, IP blocks and the flags rules respect: decoy keys, break-glass users. */
export default function detectionRoutes(app: FastifyInstance, s: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const store = s.store;

  r.get(
    '/v1/organizations/:org/detection-settings',
    {
      config: { permission: 'rules:read' },
      schema: {
        tags,
        summary: 'Get detection settings (business hours)',
        params: OrgParams,
        response: { 200: Settings },
      },
    },
    async (request) => ({
      timezone: 'UTC',
      businessStart: 9,
      businessEnd: 18,
      businessDays: [1, 2, 3, 4, 5],
      ...((await store.detection.settings(request.params.org)) ?? {}),
    }),
  );

  r.put(
    '/v1/organizations/:org/detection-settings',
    {
      config: { permission: 'rules:write' },
      schema: {
        tags,
        summary: 'Set detection settings',
        params: OrgParams,
        body: Settings,
        response: { 200: Settings },
      },
    },
    async (request) => {
      if (!isValidTimeZone(request.body.timezone)) {
        throw new AppError('validation_failed', 'Unknown time zone', {
          errors: [{ location: '/body/timezone', message: 'not an IANA time zone' }],
        });
      }
      const ctx = requestContext(request);
      await store.transaction(async (tx) => {
        await tx.detection.saveSettings(request.params.org, request.body, s.clock.now().toISOString());
        await tx.events.append([
          buildEvent(s.clock, ctx, {
            organizationId: request.params.org,
            type: 'detection.settings.updated',
            data: { ...request.body },
          }),
        ]);
      });
      return request.body;
    },
  );

  r.get(
    '/v1/organizations/:org/ip-blocks',
    {
      config: { permission: 'rules:read' },
      schema: {
        tags,
        summary: 'List active IP blocks',
        params: OrgParams,
        response: { 200: Type.Object({ data: Type.Array(IpBlock) }) },
      },
    },
    async (request) => ({ data: await s.ipBlocks.list(request.params.org) }),
  );

  r.post(
    '/v1/organizations/:org/ip-blocks',
    {
      config: { permission: 'rules:write' },
      schema: {
        tags,
        summary: 'Block an address or range for a while',
        params: OrgParams,
        body: Type.Object(
          {
            range: Type.String({ maxLength: 64 }),
            duration: Type.String({ pattern: DURATION_PATTERN }),
            reason: Type.Optional(Type.String({ maxLength: 500 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: IpBlock },
      },
    },
    async (request, reply) => {
      if (!isValidRange(request.body.range)) {
        throw new AppError('validation_failed', 'Not an IP address or CIDR range', {
          errors: [{ location: '/body/range', message: 'invalid range' }],
        });
      }
      const org = await store.organizations.get(request.params.org);
      const block = await s.ipBlocks.block(requestContext(request), {
        organizationId: request.params.org,
        range: request.body.range,
        untilMs: s.clock.now().getTime() + (parseDuration(request.body.duration) ?? 0),
        reason: request.body.reason ?? null,
        ruleId: null,
        global: org?.isRoot ?? false,
      });
      return reply.code(201).send(block);
    },
  );

  r.delete(
    '/v1/organizations/:org/ip-blocks/:id',
    {
      config: { permission: 'rules:write' },
      schema: {
        tags,
        summary: 'Lift an IP block',
        params: Type.Object(
          { org: OrgParams.properties.org, id: IdParam('blk', 'Block id') },
          { additionalProperties: false },
        ),
        response: { 204: NoContent },
      },
    },
    async (request, reply) => {
      if (!(await s.ipBlocks.unblock(requestContext(request), request.params.org, request.params.id)))
        throw new AppError('not_found');
      return reply.code(204).send(null);
    },
  );

  r.put(
    '/v1/organizations/:org/api-keys/:id/decoy',
    {
      config: { permission: 'api-keys:write' },
      schema: {
        tags,
        summary: 'Mark an API key as a honeytoken (decoy)',
        description:
          'Any use of a decoy key fires the `honeytoken` detector. Create a key with no permissions and plant it where an attacker would look.',
        params: Type.Object(
          { org: OrgParams.properties.org, id: IdParam('key', 'API key id') },
          { additionalProperties: false },
        ),
        body: Type.Object({ decoy: Type.Boolean() }, { additionalProperties: false }),
        response: { 200: Type.Object({ id: Type.String(), decoy: Type.Boolean() }) },
      },
    },
    async (request) => {
      const { org, id } = request.params;
      const ctx = requestContext(request);
      const ok = await store.transaction(async (tx) => {
        if (!(await tx.detection.setDecoy(org, id, request.body.decoy))) return false;
        await tx.events.append([
          buildEvent(s.clock, ctx, {
            organizationId: org,
            type: 'api_key.updated',
            target: { type: 'api_key', id },
            data: { keyId: id, changes: ['decoy'], decoy: request.body.decoy },
          }),
        ]);
        return true;
      });
      if (!ok) throw new AppError('not_found');
      return { id, decoy: request.body.decoy };
    },
  );

  r.put(
    '/v1/organizations/:org/users/:id/break-glass',
    {
      config: { permission: 'users:write' },
      schema: {
        tags,
        summary: 'Mark a user as a break-glass account',
        description: 'Automation never locks or disables a break-glass user; rules alert instead.',
        params: Type.Object(
          { org: OrgParams.properties.org, id: IdParam('usr', 'User id') },
          { additionalProperties: false },
        ),
        body: Type.Object({ breakGlass: Type.Boolean() }, { additionalProperties: false }),
        response: { 200: Type.Object({ id: Type.String(), breakGlass: Type.Boolean() }) },
      },
    },
    async (request) => {
      const { org, id } = request.params;
      const ctx = requestContext(request);
      const ok = await store.transaction(async (tx) => {
        if (!(await tx.detection.setBreakGlass(org, id, request.body.breakGlass))) return false;
        await tx.events.append([
          buildEvent(s.clock, ctx, {
            organizationId: org,
            type: 'user.updated',
            target: { type: 'user', id },
            data: { changes: ['breakGlass'], breakGlass: request.body.breakGlass },
          }),
        ]);
        return true;
      });
      if (!ok) throw new AppError('not_found');
      return { id, breakGlass: request.body.breakGlass };
    },
  );

  r.get(
    '/v1/organizations/:org/users/:id/lock',
    {
      config: { permission: 'users:read' },
      schema: {
        tags,
        summary: 'Lock state of a user',
        description: 'Login (issue 4) must refuse a user whose `lockedUntil` is in the future.',
        params: Type.Object(
          { org: OrgParams.properties.org, id: IdParam('usr', 'User id') },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            id: Type.String(),
            locked: Type.Boolean(),
            lockedUntil: Type.Union([Timestamp, Type.Null()]),
            breakGlass: Type.Boolean(),
          }),
        },
      },
    },
    async (request) => {
      const flags = await store.detection.userFlags(request.params.org, request.params.id);
      if (!flags) throw new AppError('not_found');
      const locked = flags.lockedUntil !== null && flags.lockedUntil > s.clock.now().toISOString();
      return { id: request.params.id, locked, lockedUntil: flags.lockedUntil, breakGlass: flags.breakGlass };
    },
  );
}
