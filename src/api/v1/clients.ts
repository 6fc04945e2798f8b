import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { GRANT_TYPES } from '../../domain/oauth/clients.ts';
import { requestContext } from '../../http/context.ts';
import { Cursor, IdParam, Limit, NoContent, OrgParams, pageOf, Timestamp } from '../../http/schemas.ts';
import type { Services } from '../../services.ts';

const Uri = Type.String({ minLength: 1, maxLength: 2000 });
const Scope = Type.String({ pattern: '^[A-Za-z0-9._:-]{1,128}$' });
const GrantType = Type.Union([
  Type.Literal(GRANT_TYPES[0]),
  Type.Literal(GRANT_TYPES[1]),
  Type.Literal(GRANT_TYPES[2]),
  Type.Literal(GRANT_TYPES[3]),
]);

const settings = {
  redirectUris: Type.Array(Uri, {
    maxItems: 50,
    description: 'Exact redirect URIs (compared character for character, no wildcards).',
  }),
  postLogoutRedirectUris: Type.Array(Uri, { maxItems: 50 }),
  grantTypes: Type.Array(GrantType, { minItems: 1, maxItems: 4, uniqueItems: true }),
  scopes: Type.Array(Scope, {
    maxItems: 200,
    description:
      'Scopes the client may request: OpenID scopes (`openid profile email offline_access`) and permissions of its API resources (`users:read`).',
  }),
  resources: Type.Array(Uri, {
    maxItems: 20,
    description:
      'API resources (RFC 8707 resource indicators) the client may get tokens for; the first is the default. Latchkey’s own API is `{publicUrl}/v1`.',
  }),
  backchannelLogoutUri: Type.Union([Uri, Type.Null()], {
    description: 'OpenID Connect Back-Channel Logout endpoint of the client.',
  }),
};

export const OAuthClient = Type.Object(
  {
    id: Type.String({ description: 'The `client_id` (`cli_…`).' }),
    organizationId: Type.String(),
    name: Type.String(),
    type: Type.Union([Type.Literal('confidential'), Type.Literal('public')], {
      description: 'Confidential clients authenticate with a secret; public clients (SPAs, mobile) use PKCE.',
    }),
    firstParty: Type.Boolean({ description: 'First-party clients skip the consent page.' }),
    secretHint: Type.Union([Type.String(), Type.Null()]),
    ...settings,
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { $id: 'OAuthClient', title: 'OAuthClient' },
);

const WithSecret = Type.Object(
  {
    ...OAuthClient.properties,
    secret: Type.Union([Type.String(), Type.Null()], {
      description: 'The client secret, in this response only (null for public clients).',
    }),
  },
  { title: 'OAuthClientWithSecret' },
);

const ClientParams = Type.Object(
  { org: OrgParams.properties.org, id: IdParam('cli', 'Client id (`cli_…`).') },
  { additionalProperties: false },
);

export default function clientRoutes(app: FastifyInstance, s: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const clients = s.oauth.clients;

  r.post(
    '/v1/organizations/:org/clients',
    {
      config: { permission: 'clients:write' },
      schema: {
        tags: ['OAuth clients'],
        summary: 'Create an OAuth client',
        description:
          'Registers a client at the organization’s issuer `{publicUrl}/oidc/{org}`. A confidential client’s secret is in this response only.',
        params: OrgParams,
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 200 }),
            type: OAuthClient.properties.type,
            firstParty: Type.Optional(Type.Boolean()),
            redirectUris: Type.Optional(settings.redirectUris),
            postLogoutRedirectUris: Type.Optional(settings.postLogoutRedirectUris),
            grantTypes: Type.Optional(settings.grantTypes),
            scopes: Type.Optional(settings.scopes),
            resources: Type.Optional(settings.resources),
            backchannelLogoutUri: Type.Optional(settings.backchannelLogoutUri),
          },
          { additionalProperties: false },
        ),
        response: { 201: WithSecret },
      },
    },
    async (request, reply) => {
      const created = await clients.create(requestContext(request), request.params.org, request.body);
      return reply.code(201).send(created);
    },
  );

  r.get(
    '/v1/organizations/:org/clients',
    {
      config: { permission: 'clients:read' },
      schema: {
        tags: ['OAuth clients'],
        summary: 'List OAuth clients',
        params: OrgParams,
        querystring: Type.Object(
          { cursor: Type.Optional(Cursor), limit: Type.Optional(Limit) },
          { additionalProperties: false },
        ),
        response: { 200: pageOf(Type.Ref('OAuthClient')) },
      },
    },
    async (request) =>
      clients.list(request.params.org, { cursor: request.query.cursor, limit: request.query.limit ?? 50 }),
  );

  r.get(
    '/v1/organizations/:org/clients/:id',
    {
      config: { permission: 'clients:read' },
      schema: {
        tags: ['OAuth clients'],
        summary: 'Get an OAuth client',
        params: ClientParams,
        response: { 200: Type.Ref('OAuthClient') },
      },
    },
    async (request) => clients.get(request.params.org, request.params.id),
  );

  r.patch(
    '/v1/organizations/:org/clients/:id',
    {
      config: { permission: 'clients:write' },
      schema: {
        tags: ['OAuth clients'],
        summary: 'Update an OAuth client',
        description: 'Takes effect at the issuer for the next request.',
        params: ClientParams,
        body: Type.Object(
          {
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            firstParty: Type.Optional(Type.Boolean()),
            redirectUris: Type.Optional(settings.redirectUris),
            postLogoutRedirectUris: Type.Optional(settings.postLogoutRedirectUris),
            grantTypes: Type.Optional(settings.grantTypes),
            scopes: Type.Optional(settings.scopes),
            resources: Type.Optional(settings.resources),
            backchannelLogoutUri: Type.Optional(settings.backchannelLogoutUri),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Ref('OAuthClient') },
      },
    },
    async (request) =>
      clients.update(requestContext(request), request.params.org, request.params.id, request.body),
  );

  r.delete(
    '/v1/organizations/:org/clients/:id',
    {
      config: { permission: 'clients:write' },
      schema: {
        tags: ['OAuth clients'],
        summary: 'Delete an OAuth client',
        description: 'The client can no longer authenticate or obtain tokens.',
        params: ClientParams,
        response: { 204: NoContent },
      },
    },
    async (request, reply) => {
      await clients.delete(requestContext(request), request.params.org, request.params.id);
      return reply.code(204).send(null);
    },
  );

  r.post(
    '/v1/organizations/:org/clients/:id/rotate-secret',
    {
      config: { permission: 'clients:write' },
      schema: {
        tags: ['OAuth clients'],
        summary: 'Rotate a client secret',
        description:
          'Issues a new secret (in this response only); the previous secret stops working at once.',
        params: ClientParams,
        response: { 200: WithSecret },
      },
    },
    async (request) => clients.rotateSecret(requestContext(request), request.params.org, request.params.id),
  );
}
