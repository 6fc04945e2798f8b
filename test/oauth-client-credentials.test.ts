import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { expect, it } from 'vitest';
import { describeOAuth } from './helpers/oauth.ts';

const API = 'https://api.example.com';

describeOAuth('client credentials grant', (t) => {
  it('issues an RFC 9068 JWT for the API resource, verifiable against the published JWKS', async () => {
    const client = await t().createClient({
      name: 'Billing backend',
      type: 'confidential',
      grantTypes: ['client_credentials'],
      scopes: ['invoices:read', 'invoices:write'],
      resources: [API],
    });
    expect(client.secret).toMatch(/^lcs_/);
    const config = await t().discover(client.id, client.secret);
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'invoices:read', resource: API });
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    expect(tokens.expires_in).toBe(600);
    const jwks = createRemoteJWKSet(new URL(`${t().issuer()}/jwks`));
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, {
      issuer: t().issuer(),
      audience: API,
      typ: 'at+jwt',
    });
    expect(protectedHeader.alg).toBe('ES256');
    expect(payload).toMatchObject({ client_id: client.id, sub: client.id, scope: 'invoices:read' });
    // Self-contained JWTs are verified against the JWKS, not introspected.
    await expect(oidc.tokenIntrospection(config, tokens.access_token)).rejects.toMatchObject({
      error: 'unsupported_token_type',
    });
  });

  it('refuses a wrong client secret (invalid_client)', async () => {
    const client = await t().createClient({
      name: 'Svc',
      type: 'confidential',
      grantTypes: ['client_credentials'],
      scopes: ['invoices:read'],
      resources: [API],
    });
    const config = await t().discover(client.id, 'lcs_wrong');
    await expect(oidc.clientCredentialsGrant(config, { resource: API })).rejects.toMatchObject({
      error: 'invalid_client',
    });
  });

  it("refuses another organization's client at this issuer (invalid_client)", async () => {
    const other = await t().createOrganization('Tenant B');
    const client = await t().createClient(
      { name: 'B svc', type: 'confidential', grantTypes: ['client_credentials'], resources: [API] },
      other,
    );
    const config = await t().discover(client.id, client.secret);
    await expect(oidc.clientCredentialsGrant(config, { resource: API })).rejects.toMatchObject({
      error: 'invalid_client',
    });
  });

  it('accepts a rotated secret at once and refuses the old one', async () => {
    const client = await t().createClient({
      name: 'Rotating',
      type: 'confidential',
      grantTypes: ['client_credentials'],
      resources: [API],
    });
    const res = await t().call({
      method: 'POST',
      url: `/v1/organizations/${t().org}/clients/${client.id}/rotate-secret`,
    });
    expect(res.statusCode).toBe(200);
    const rotated = res.json().secret as string;
    expect(rotated).not.toBe(client.secret);
    const fresh = await t().discover(client.id, rotated);
    await expect(oidc.clientCredentialsGrant(fresh, { resource: API })).resolves.toHaveProperty(
      'access_token',
    );
    const stale = await t().discover(client.id, client.secret);
    await expect(oidc.clientCredentialsGrant(stale, { resource: API })).rejects.toMatchObject({
      error: 'invalid_client',
    });
  });
});
