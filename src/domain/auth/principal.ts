/** The authenticated caller of a request. Permission checks are set lookups. */
export interface Principal {
  type: 'api_key' | 'user';
  id: string;
  organizationId: string;
  /** True for the root organization created by bootstrap (may create organizations). */
  rootOrganization: boolean;
  display: string;
  permissions: ReadonlySet<string>;
  /** Protected principals (the owner key) are never revoked or locked by automation. */
  protected: boolean;
  /** `scim_` keys may reach SCIM endpoints only. */
  scimOnly: boolean;
}

export function hasPermission(principal: Principal, permission: string): boolean {
  return principal.permissions.has(permission);
}

/** Permissions in `requested` the principal does not hold (escalation check). */
export function missingPermissions(principal: Principal, requested: Iterable<string>): string[] {
  const missing: string[] = [];
  for (const p of requested) if (!principal.permissions.has(p)) missing.push(p);
  return missing;
}
