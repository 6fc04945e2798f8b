import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { serve } from './cli/serve.ts';
import { registerSigningKeyCommands } from './cli/signing-keys.ts';
import { worker } from './cli/worker.ts';
import { renderConfigurationDoc } from './config/docs.ts';
import { ConfigError, loadConfig } from './config/load.ts';
import type { Config } from './config/schema.ts';
import { renderErrorsDoc } from './errors/docs.ts';
import { renderEventsDoc } from './events/docs.ts';
import { openRuntime } from './runtime.ts';

function config(options: { config?: string }): Readonly<Config> {
  try {
    return loadConfig(process.env, { configFile: options.config });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

const program = new Command()
  .name('latchkey')
  .description('Latchkey: API-first identity and access management')
  .option('-c, --config <file>', 'JSON configuration file (environment variables win)')
  .showHelpAfterError();

program
  .command('serve')
  .description('run the HTTPS server (migrates, and bootstraps an empty database)')
  .action(async () => {
    await serve(config(program.opts()));
  });

program
  .command('worker')
  .description('run the event dispatcher (outbox fan-out and webhook delivery) without the HTTP server')
  .option('--once', 'deliver everything due now, then exit')
  .action(async (options: { once?: boolean }) => {
    await worker(config(program.opts()), options);
  });

program
  .command('migrate')
  .description('apply pending database migrations')
  .action(async () => {
    const runtime = await openRuntime(config(program.opts()));
    process.stdout.write(`migrations are up to date (${runtime.db.describe})\n`);
    await runtime.close();
  });

program
  .command('bootstrap')
  .description('create the first organization and its owner key, headless')
  .requiredOption('--out <file>', 'file to write the owner key to (mode 0600)')
  .option('--name <name>', 'name of the organization', 'Default organization')
  .action(async (options: { out: string; name: string }) => {
    const runtime = await openRuntime(config(program.opts()));
    try {
      const created = await runtime.services.organizations.bootstrap(options.name);
      if (!created) {
        process.stdout.write('already bootstrapped: nothing was created\n');
        return;
      }
      writeFileSync(options.out, `${created.ownerKey.key}\n`, { mode: 0o600, flag: 'w' });
      chmodSync(options.out, 0o600);
      process.stdout.write(
        `created organization ${created.organization.id}; owner key ${created.ownerKey.view.hint} written to ${options.out}\n`,
      );
    } finally {
      await runtime.close();
    }
  });

const audit = program.command('audit').description('audit-log integrity');
audit
  .command('seal')
  .description('seal every settled event into the hash chain now')
  .action(async () => {
    const runtime = await openRuntime(config(program.opts()));
    try {
      await runtime.services.batch.flush();
      const result = await runtime.services.sealer.seal();
      process.stdout.write(`sealed ${result.events} events in ${result.seals} seals\n`);
    } finally {
      await runtime.close();
    }
  });
audit
  .command('verify')
  .description('recompute the seal chain; exit 1 naming the first altered or deleted record')
  .action(async () => {
    const runtime = await openRuntime(config(program.opts()));
    try {
      const report = await runtime.services.sealer.verify((done, total) => {
        if (process.stderr.isTTY) process.stderr.write(`\rverifying seal ${done}/${total}`);
      });
      if (process.stderr.isTTY) process.stderr.write('\n');
      if (report.ok) {
        process.stdout.write(
          `OK: ${report.eventsVerified} events in ${report.seals} seals verified; ${report.unsealedEvents} events not yet sealed\n`,
        );
      } else {
        process.stdout.write(`FAILED: ${report.problem?.message}\n`);
        process.exitCode = 1;
      }
    } finally {
      await runtime.close();
    }
  });

registerSigningKeyCommands(program, () => config(program.opts()));

program
  .command('openapi')
  .description('print, write or check the OpenAPI document')
  .option('--out <file>', 'write it to this file')
  .option('--check <file>', 'exit 1 when this file differs from the generated document')
  .action(async (options: { out?: string; check?: string }) => {
    const { generateOpenApi } = await import('./cli/documents.ts');
    const doc = await generateOpenApi();
    if (options.check) {
      if (readFileSync(options.check, 'utf8') !== doc) {
        process.stderr.write(`${options.check} is out of date: run npm run openapi and commit the result\n`);
        process.exitCode = 1;
      } else process.stdout.write(`${options.check} matches the routes\n`);
    } else if (options.out) writeFileSync(options.out, doc);
    else process.stdout.write(doc);
  });

program
  .command('docs')
  .description('regenerate docs/configuration.md, docs/errors.md and docs/events.md')
  .option('--write', 'write the files')
  .action((options: { write?: boolean }) => {
    const files = {
      'docs/configuration.md': renderConfigurationDoc(),
      'docs/errors.md': renderErrorsDoc(),
      'docs/events.md': renderEventsDoc(),
    };
    for (const [path, text] of Object.entries(files)) {
      if (options.write) writeFileSync(path, text);
      else process.stdout.write(text);
    }
  });

await program.parseAsync(process.argv);
