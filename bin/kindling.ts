import { runCli } from '../src/main/cli.js';

await runCli(process.argv.slice(2));
