import { expect, it } from 'vitest';
import { describeEachDb } from './helpers/each-db.ts';

describeEachDb('GET /oidc/:org/.well-known/openid-configuration', (t) => {
  it('serves a discovery document whose issuer is the organization', async () => {
    const res = await t().call({
      method: 'GET',
      url: `/oidc/${t().org}/.well-known/openid-configuration`,
      key: null,
    });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.issuer).toBe(`${t().config.publicUrl}/oidc/${t().org}`);
    expect(doc.token_endpoint).toMatch(new RegExp(`/oidc/${t().org}/token$`));
    expect(doc.grant_types_supported).toEqual(
      expect.arrayContaining(['authorization_code', 'refresh_token', 'client_credentials']),
    );
  });

  it('publishes an ES256 key in the JWKS', async () => {
    const res = await t().call({ method: 'GET', url: `/oidc/${t().org}/jwks`, key: null });
    expect(res.statusCode).toBe(200);
    const { keys } = res.json();
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(keys[0].d).toBeUndefined();
  });

  it('answers 404 for an organization that does not exist', async () => {
    const res = await t().call({
      method: 'GET',
      url: `/oidc/org_${'0'.repeat(26)}/.well-known/openid-configuration`,
      key: null,
    });
    expect(res.statusCode).toBe(404);
  });
});
