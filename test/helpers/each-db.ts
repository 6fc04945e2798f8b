import { afterAll, beforeAll, describe } from 'vitest';
import { createTestApp, type TestApp } from './app.ts';
import { type DbTarget, dbTargets } from './databases.ts';

/**
 * Runs a suite once per database target (SQLite, and PostgreSQL when
 * TEST_DATABASE_URL is set) against a fresh app. `t()` returns the app of
 * the running suite.
 */
export function describeEachDb(
  name: string,
  body: (t: () => TestApp, target: DbTarget) => void,
  options: Parameters<typeof createTestApp>[1] = {},
): void {
  for (const target of dbTargets) {
    describe(`${name} [${target}]`, () => {
      let app: TestApp | undefined;
      beforeAll(async () => {
        app = await createTestApp(target, options);
      });
      afterAll(async () => {
        await app?.close();
      });
      body(() => {
        if (!app) throw new Error('test app not ready');
        return app;
      }, target);
    });
  }
}
