import type { Config } from './config/schema.ts';
import { loadMasterKey } from './crypto/master-key.ts';
import type { Clock } from './domain/shared/clock.ts';
import { systemClock } from './domain/shared/clock.ts';
import { createServices, type Services } from './services.ts';
import { type Db, openDatabase } from './store/db.ts';
import { migrateToLatest } from './store/migrate.ts';
import { connectRedis } from './store/redis/connect.ts';
import { createStore } from './store/store.ts';

export interface Runtime {
  db: Db;
  services: Services;
  close(): Promise<void>;
}

/** Opens the configured database, applies migrations and wires the services. */
export async function openRuntime(
  config: Readonly<Config>,
  options: { clock?: Clock; onBackgroundError?: (error: unknown) => void } = {},
): Promise<Runtime> {
  const db = openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    await migrateToLatest(db);
  } catch (error) {
    await db.close();
    throw error;
  }
  const clock = options.clock ?? systemClock;
  const redis = config.redisUrl ? await connectRedis(config.redisUrl, clock) : undefined;
  const services = createServices({
    store: createStore(db),
    clock,
    masterKey: loadMasterKey(config.masterKey, config.dataDir),
    config,
    onBackgroundError: options.onBackgroundError,
    ...(redis?.services ?? {}),
  });
  return {
    db,
    services,
    async close() {
      await services.rules.stop();
      await services.dispatcher.stop();
      await services.batch.stop();
      await redis?.close();
      await db.close();
    },
  };
}
