// The frame every admin command runs in: strict flag parsing, --help, the id argument, then the
// work; a UsageError prints the command's usage (exit 2), any other known failure exit 1.

import { AdminApiUnreachable } from '../admin/remote-admin-service.ts';
import { ConfigError } from '../config/config-error.ts';
import { isGatewayError } from '../errors/gateway-error.ts';
import { StoreUnavailable } from '../stores/identity-store.ts';
import { parseCommand, UsageError, type FieldFlag, type ParsedCommand } from './admin-flags.ts';
import type { CliIO } from './run-cli.ts';

/** A failure with a complete message for the user (exit 1). */
export class CommandFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandFailed';
  }
}

export interface CommandShape {
  readonly usage: string;
  /** Every flag the command accepts. */
  readonly flags: readonly FieldFlag[];
  /** Whether it takes an object id as its one positional argument. */
  readonly takesId: boolean;
}

/** Checks the values (throwing UsageError) and returns the work to do. */
export type Prepare = (values: ParsedCommand['values'], id: string) => () => Promise<void>;

/** Parses and checks the command line, then runs the prepared work; maps every failure to its exit code. */
export async function execute(io: CliIO, argv: string[], shape: CommandShape, prepare: Prepare): Promise<number> {
  try {
    const { values, positionals } = parseCommand(argv, shape.flags);
    if (values.help) {
      io.out(shape.usage);
      return 0;
    }
    if (shape.takesId && positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'missing the id.' : `expected one id, got ${positionals.length}: ${positionals.join(' ')}.`);
    if (!shape.takesId && positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}".`);
    await prepare(values, positionals[0] ?? '')();
    return 0;
  } catch (err) {
    if (!(err instanceof UsageError)) return reportFailure(err, io);
    io.err(`${err.message}\n\n${shape.usage}`);
    return 2;
  }
}

/** Prints a failure and returns the exit code (1), or rethrows what is not a known failure (a bug). */
export function reportFailure(err: unknown, io: CliIO): number {
  if (isGatewayError(err)) io.err(`error: ${err.code}: ${err.message}`);
  else if (err instanceof StoreUnavailable) io.err(`error: store_unavailable: ${err.message}`);
  else if (err instanceof ConfigError) io.err(err.message);
  else if (err instanceof AdminApiUnreachable || err instanceof CommandFailed) io.err(`error: ${err.message}`);
  else throw err;
  return 1;
}
