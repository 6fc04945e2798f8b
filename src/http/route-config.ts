/**
 * What every route declares besides its schema: whether it needs a
 * credential, which permission, and whether it lives under an organization
 * (`:org`), in which case a caller from another organization gets 404.
 */
declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: 'none' | 'required';
    permission?: string;
    /** SCIM endpoints only: the only routes `scim_` keys may reach. */
    scim?: boolean;
  }
  interface FastifyRequest {
    principal?: import('../domain/auth/principal.ts').Principal;
  }
}

/** A route option's hooks (absent, one, or a list) as a list, to add one of ours before or after them. */
export function routeHooks<H>(hooks: H | H[] | undefined): H[] {
  return hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks];
}
