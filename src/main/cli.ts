/** The `kindling` command. `kindling server` runs the standalone server (what `npm start` runs). */
import { Command, Option } from 'commander';
import { pino } from 'pino';
import { ConfigError, loadConfig } from '../config/config.js';
import { startStandalone } from './standalone.js';

export async function runCli(argv: readonly string[]): Promise<void> {
  const program = new Command('kindling').description('A self-hosted serverless platform, wire-compatible with AWS Lambda');
  program
    .command('server')
    .description('run the Kindling server (API on one port; data in the data directory)')
    .addOption(new Option('--host <host>', 'address to listen on').env('KINDLING_HOST'))
    .addOption(new Option('--port <port>', 'port to listen on (0 picks a free one)').env('KINDLING_PORT'))
    .addOption(new Option('--data-dir <dir>', 'where the database and code live').env('KINDLING_DATA_DIR'))
    .action(async (flags: { host?: string; port?: string; dataDir?: string }) => {
      await serve(flags);
    });
  await program.parseAsync([...argv], { from: 'user' });
}

async function serve(flags: { host?: string; port?: string; dataDir?: string }): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env, flags);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`kindling: ${error.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw error;
  }
  // Platform logs go to stderr as JSON lines; stdout carries the few lines a person reads.
  const log = pino({ level: config.logLevel, base: undefined }, pino.destination(2));
  const server = await startStandalone(config, { log });
  const out = (line: string) => process.stdout.write(`${line}\n`);
  if (config.auth === 'none') {
    out('Authentication is off (KINDLING_AUTH=none): any credentials are accepted.');
  } else {
    out(server.secrets.generated ? 'Credentials (generated on first start, kept in the data directory):' : 'Credentials (from KINDLING_ACCESS_KEY_ID / KINDLING_SECRET_ACCESS_KEY):');
    out(`  export AWS_ACCESS_KEY_ID=${server.secrets.accessKeyId} AWS_SECRET_ACCESS_KEY=${server.secrets.secretAccessKey} AWS_DEFAULT_REGION=${config.region}`);
  }
  if (server.sandbox === 'process') {
    out('WARNING: KINDLING_SANDBOX=process — functions run as plain processes with NO isolation. Use it for development only.');
  }
  out(`Data directory: ${config.dataDir}`);
  out(`Try: aws lambda list-functions --endpoint-url ${server.url}`);
  out(`Kindling listening on ${server.url}`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'unclean shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
