import { buildApp } from '../app.ts';
import { loadConfig } from '../config/load.ts';
import { masterKeyFromBytes } from '../crypto/master-key.ts';
import { systemClock } from '../domain/shared/clock.ts';
import { createServices } from '../services.ts';
import { openSqlite } from '../store/db.ts';
import { migrateToLatest } from '../store/migrate.ts';
import { createStore } from '../store/store.ts';

/**
 * The OpenAPI document as the server would serve it, built from the route
 * schemas on a throw-away in-memory database with default configuration
 * (so the committed file does not depend on the machine that made it).
 */
export async function generateOpenApi(): Promise<string> {
  const config = loadConfig({});
  const db = openSqlite(':memory:');
  await migrateToLatest(db);
  const services = createServices({
    store: createStore(db),
    clock: systemClock,
    masterKey: masterKeyFromBytes(Buffer.alloc(32)),
    config,
  });
  const app = await buildApp({ config, services });
  try {
    return `${JSON.stringify(app.swagger(), null, 2)}\n`;
  } finally {
    await app.close();
    await db.close();
  }
}
