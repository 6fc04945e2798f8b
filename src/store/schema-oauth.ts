/** Tables of the OAuth 2.0 / OpenID Connect issue (migration 0004). */
export interface OidcPayloadsTable {
  organization_id: string;
  model: string;
  id: string;
  payload: string;
  grant_id: string | null;
  uid: string | null;
  user_code: string | null;
  account_id: string | null;
  expires_at: string | null;
  consumed_at: string | null;
  created_at: string;
}

export interface OAuthClientsTable {
  id: string;
  organization_id: string;
  name: string;
  type: 'confidential' | 'public';
  first_party: number;
  secret_sealed: string | null;
  secret_hint: string | null;
  metadata: string;
  created_at: string;
  updated_at: string;
}

export interface SigningKeysTable {
  id: string;
  organization_id: string;
  alg: string;
  status: 'active' | 'rotated';
  public_jwk: string;
  private_jwk_sealed: string;
  created_at: string;
  rotated_at: string | null;
  retire_at: string | null;
}

export interface UserCredentialsTable {
  user_id: string;
  organization_id: string;
  password_hash: string | null;
  password_set_at: string | null;
  mfa_required: number;
  totp_sealed: string | null;
  totp_confirmed_at: string | null;
  recovery_codes: string;
  updated_at: string;
}

export interface WebauthnCredentialsTable {
  id: string;
  organization_id: string;
  user_id: string;
  public_key: string;
  counter: number;
  transports: string;
  created_at: string;
}

export interface LoginFailuresTable {
  organization_id: string;
  user_id: string;
  ip: string;
  failures: number;
  locked_until: string | null;
  updated_at: string;
}

export interface OAuthDatabase {
  oidc_payloads: OidcPayloadsTable;
  oauth_clients: OAuthClientsTable;
  signing_keys: SigningKeysTable;
  user_credentials: UserCredentialsTable;
  webauthn_credentials: WebauthnCredentialsTable;
  login_failures: LoginFailuresTable;
}
