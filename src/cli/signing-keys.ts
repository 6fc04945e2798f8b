import type { Command } from 'commander';
import type { Config } from '../config/schema.ts';
import { SIGNING_ALGS, type SigningAlg } from '../domain/oauth/signing-keys.ts';
import { systemContext } from '../domain/shared/types.ts';
import { openRuntime } from '../runtime.ts';

/** `latchkey signing-keys rotate --org <id> [--alg ES256|RS256|EdDSA]` and `signing-keys list`. */
export function registerSigningKeyCommands(program: Command, config: () => Readonly<Config>): void {
  const keys = program.command('signing-keys').description('OAuth / OpenID Connect token signing keys');
  keys
    .command('rotate')
    .description('make a new active signing key; the previous one stays in the JWKS until its tokens expire')
    .requiredOption('--org <id>', 'organization id (org_…)')
    .option('--alg <alg>', `signing algorithm (${SIGNING_ALGS.join(', ')})`, 'ES256')
    .action(async (options: { org: string; alg: string }) => {
      if (!(SIGNING_ALGS as readonly string[]).includes(options.alg)) {
        process.stderr.write(`unknown --alg ${options.alg}; use one of ${SIGNING_ALGS.join(', ')}\n`);
        process.exitCode = 2;
        return;
      }
      const runtime = await openRuntime(config());
      try {
        if (!(await runtime.services.store.organizations.get(options.org))) {
          process.stderr.write(`no organization ${options.org}\n`);
          process.exitCode = 1;
          return;
        }
        const key = await runtime.services.oauth.signingKeys.rotate(
          systemContext,
          options.org,
          options.alg as SigningAlg,
        );
        process.stdout.write(`rotated: new ${key.alg} key ${key.id} is active\n`);
      } finally {
        await runtime.close();
      }
    });
  keys
    .command('list')
    .description('list published signing keys (public parts only)')
    .requiredOption('--org <id>', 'organization id (org_…)')
    .action(async (options: { org: string }) => {
      const runtime = await openRuntime(config());
      try {
        for (const k of await runtime.services.oauth.signingKeys.list(options.org)) {
          process.stdout.write(`${k.id}\t${k.alg}\t${k.status}\t${k.retireAt ?? ''}\n`);
        }
      } finally {
        await runtime.close();
      }
    });
}
