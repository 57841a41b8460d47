// Entry point: `node src/main.ts <command>` (npm start) and the `tollgate` bin.
import { runCli } from './cli/run-cli.ts';

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`tollgate: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
