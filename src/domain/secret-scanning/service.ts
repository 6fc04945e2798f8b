import { createHash, type KeyObject } from 'node:crypto';
import { parseApiKey } from '../../crypto/api-key-format.ts';
import { verifyEcdsaSignature } from '../../crypto/secret-scanning-keys.ts';
import { AppError } from '../../errors/app-error.ts';
import type { Store } from '../../store/store.ts';
import type { ApiKeyService } from '../api-keys/service.ts';
import { buildEvent } from '../audit/events.ts';
import type { Clock } from '../shared/clock.ts';
import type { RequestContext } from '../shared/types.ts';

export interface LeakReportItem {
  token: string;
  type: string;
  url?: string | undefined;
  source?: string | undefined;
}

export interface LeakLabel {
  token_hash: string;
  token_type: string;
  label: 'true_positive' | 'false_positive';
}

/**
 * Leaked-key reports in the format of GitHub's secret scanning partner
 * program. The signature is checked before anything else is read; a live
 * Latchkey key in a report is revoked at once with reason `leaked` (the URL
 * kept) and `api_key.leaked` is written. The owner key is protected from
 * automatic revocation (DESIGN.md): it is labelled and reported, not revoked.
 */
export function createSecretScanningService(deps: {
  store: Store;
  clock: Clock;
  apiKeys: ApiKeyService;
  publicKeys: ReadonlyMap<string, KeyObject>;
}) {
  const { store, clock, apiKeys, publicKeys } = deps;

  return {
    configured: () => publicKeys.size > 0,

    /** Throws 401 `invalid_signature` unless `signature` verifies `body` with the key named `keyId`. */
    authenticate(body: Buffer, keyId: string | undefined, signature: string | undefined): void {
      const challenge = { 'www-authenticate': 'Signature realm="latchkey-secret-scanning"' };
      if (!keyId || !signature) {
        throw new AppError(
          'invalid_signature',
          'Send Github-Public-Key-Identifier and Github-Public-Key-Signature headers',
          { headers: challenge },
        );
      }
      const key = publicKeys.get(keyId);
      if (!key) {
        throw new AppError('invalid_signature', 'Unknown public key identifier', { headers: challenge });
      }
      if (!verifyEcdsaSignature(key, body, signature)) {
        throw new AppError('invalid_signature', 'The signature does not verify', { headers: challenge });
      }
    },

    async report(ctx: RequestContext, items: readonly LeakReportItem[]): Promise<LeakLabel[]> {
      const out: LeakLabel[] = [];
      for (const item of items) {
        const tokenHash = createHash('sha256').update(item.token).digest('hex');
        const label = (l: LeakLabel['label']) =>
          out.push({ token_hash: tokenHash, token_type: item.type, label: l });
        const parsed = parseApiKey(item.token);
        // Not our format or a bad checksum: not one of our keys, no lookup.
        if (!parsed) {
          label('false_positive');
          continue;
        }
        const record = await store.apiKeys.findByHash(apiKeys.hashKey(parsed.key));
        if (!record) {
          label('false_positive');
          continue;
        }
        const leak = { url: item.url ?? null, source: item.source ?? null };
        const revoked = await store.transaction(async (tx) => {
          const done = record.isOwner ? false : await apiKeys.revokeWithin(tx, ctx, record, 'leaked', leak);
          await tx.events.append([
            buildEvent(clock, ctx, {
              organizationId: record.organizationId,
              type: 'api_key.leaked',
              target: { type: 'api_key', id: record.id },
              data: {
                keyId: record.id,
                name: record.name,
                hint: record.hint,
                url: leak.url,
                source: leak.source,
                tokenType: item.type,
                revoked: done,
                ...(record.isOwner ? { notRevokedBecause: 'owner key is protected' } : {}),
              },
            }),
          ]);
          return done;
        });
        if (revoked) apiKeys.invalidate(record.keyHash);
        label('true_positive');
      }
      return out;
    },
  };
}

export type SecretScanningService = ReturnType<typeof createSecretScanningService>;
