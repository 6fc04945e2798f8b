import { buildApp, REDACT } from '../app.ts';
import type { Config } from '../config/schema.ts';
import { loadTls } from '../http/tls.ts';
import { openRuntime } from '../runtime.ts';
import { printOwnerKey } from './output.ts';

/** `latchkey serve`: migrate, bootstrap on an empty database, then HTTPS until SIGTERM/SIGINT. */
export async function serve(config: Readonly<Config>): Promise<void> {
  const runtime = await openRuntime(config, {
    onBackgroundError: (error) => console.error('latchkey: background write failed, will retry:', error),
  });
  const { services } = runtime;
  const created = await services.organizations.bootstrap();
  if (created) printOwnerKey(created);

  const tls = await loadTls({
    certPath: config.tlsCert,
    keyPath: config.tlsKey,
    dataDir: config.dataDir,
    hostnames: ['localhost', new URL(config.publicUrl).hostname],
  });
  const app = await buildApp({
    config,
    services,
    https: { key: tls.key, cert: tls.cert },
    tokens: services.oauth.tokens,
    logger: { level: config.logLevel, redact: { paths: REDACT, censor: '[redacted]' } },
  });
  services.batch.start();
  services.rules.start(config.rulesPollInterval);
  services.apiKeySweeper.start(config.keySweepInterval * 1000, (error) =>
    app.log.error({ err: error }, 'API-key sweep failed'),
  );
  const sealTimer = setInterval(() => {
    services.sealer.seal().catch((error) => app.log.error({ err: error }, 'audit seal failed'));
  }, config.auditSealInterval * 1000);
  sealTimer.unref();
  // Expired OAuth artifacts (codes, tokens, sessions, interactions) are ignored on read; sweep them.
  const oidcSweep = setInterval(() => {
    services.store.oidc
      .deleteExpired(new Date().toISOString())
      .catch((error) => app.log.error({ err: error }, 'oidc sweep failed'));
  }, 600_000);
  oidcSweep.unref();
  // Finished webhook deliveries past LATCHKEY_WEBHOOK_RETENTION_DAYS, with their attempts.
  const deliveryPrune = setInterval(() => {
    services.webhooks
      .pruneDeliveries(config.webhookRetentionDays)
      .then((n) => {
        if (n > 0) app.log.info({ deleted: n }, 'pruned finished webhook deliveries');
      })
      .catch((error) => app.log.error({ err: error }, 'webhook delivery prune failed'));
  }, 3_600_000);
  deliveryPrune.unref();

  await app.listen({ port: config.port, host: config.host });
  const bound = app.server.address();
  const port = typeof bound === 'object' && bound ? bound.port : config.port;
  services.dispatcher.start(); // delivers what the outbox holds, including events committed before a crash
  process.stderr.write(
    [
      '',
      `Latchkey is listening on https://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
      `  database:    ${runtime.db.describe}`,
      `  certificate: ${tls.path}${tls.generated ? ' (self-signed, generated now)' : ''}`,
      `  SHA-256 fingerprint: ${tls.fingerprint}`,
      `  API reference: ${config.publicUrl}/docs`,
      '',
    ].join('\n'),
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down');
    clearInterval(sealTimer);
    clearInterval(oidcSweep);
    clearInterval(deliveryPrune);
    try {
      await services.apiKeySweeper.stop();
      await app.close();
      await runtime.close(); // flushes batched usage and events: a SIGTERM loses nothing
      process.exit(0);
    } catch (error) {
      console.error('latchkey: shutdown failed:', error);
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}
