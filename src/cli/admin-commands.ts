// `tollgate teams|tenants|keys <action>` and `tollgate audit`: parse the flags, open the target
// (database or gateway), call the AdminService, print. Secrets are printed only by `keys create`
// and `keys rotate`, once, with a notice on stderr; every other output is a record without one.

import type { KeyWithSecret, Page } from '../admin/admin-service.ts';
import { newSecret } from '../identity/key-secret.ts';
import { CLEAR_FLAG, clearedFields, flag, flagHelp, helpWidth, inputFrom, JSON_FLAG, TARGET_FLAGS, UsageError, type FieldFlag, type ParsedCommand } from './admin-flags.ts';
import { openAdminTarget, type AdminTarget } from './admin-target.ts';
import { GRACE_FLAG, KEYS, KINDS, type KindSpec, type ObjectOps } from './object-kinds.ts';
import { formatRecord, formatTable, type Column } from './print-table.ts';
import { execute } from './run-command.ts';
import type { CliIO } from './run-cli.ts';
import { OBJECT_KINDS } from '../identity/records.ts';

export type AdminCommand = 'teams' | 'tenants' | 'keys' | 'audit';

interface Printer {
  record(record: object): void;
  page(page: Page<object>, columns: readonly Column[], more: string): void;
  secret(key: KeyWithSecret): void;
  deleted(idField: string, id: string): void;
}

function printer(io: CliIO, json: boolean, leading: readonly string[], noun: string): Printer {
  const asJson = (value: unknown) => io.out(JSON.stringify(value, null, 2));
  return {
    record: (record) => (json ? asJson(record) : io.out(formatRecord(record as Record<string, unknown>, leading))),
    page(page, columns, more) {
      if (json) return asJson(page);
      io.out(page.data.length === 0 ? `(no ${noun})` : formatTable(page.data as Array<Record<string, unknown>>, columns));
      if (page.next) io.err(`more: ${more} ${page.next}`);
    },
    secret(key) {
      if (json) asJson(key);
      else io.out(formatRecord(key as unknown as Record<string, unknown>, ['key', ...leading]));
      io.err('Store this key now: it will not be shown again. Only its preview (key_name) is kept.');
    },
    deleted: (idField, id) => (json ? asJson({ deleted: true, [idField]: id }) : io.out(`deleted ${noun} ${id}`)),
  };
}

interface Action {
  readonly flags: readonly FieldFlag[];
  /** Whether the action takes the object's id as its one positional argument. */
  readonly takesId: boolean;
  run(ctx: { ops: ObjectOps; target: AdminTarget; id: string; input: Record<string, unknown>; print: Printer }): Promise<void>;
}

function keyAction(method: 'revokeKey' | 'blockKey' | 'unblockKey'): Action {
  return { flags: [], takesId: true, run: async ({ target, id, print }) => print.record(await target.service[method](id, target.actor)) };
}

function actionsFor(spec: KindSpec): Record<string, Action> {
  const created = spec.name === 'keys'
    ? (print: Printer, record: object) => print.secret(record as KeyWithSecret)
    : (print: Printer, record: object) => print.record(record);
  const common: Record<string, Action> = {
    create: { flags: spec.createFlags, takesId: false, run: async ({ ops, target, input, print }) => created(print, await ops.create(input, target.actor)) },
    list: { flags: spec.listFlags, takesId: false, run: async ({ ops, input, print }) => print.page(await ops.list(input), spec.columns, '--after') },
    info: { flags: [], takesId: true, run: async ({ ops, id, print }) => print.record(await ops.get(id)) },
    update: {
      flags: [...spec.updateFlags, CLEAR_FLAG],
      takesId: true,
      run: async ({ ops, target, id, input, print }) => print.record(await ops.update(id, input, target.actor)),
    },
    delete: {
      flags: [],
      takesId: true,
      async run({ ops, target, id, print }) {
        await ops.remove(id, target.actor);
        print.deleted(spec.idField, id);
      },
    },
  };
  if (spec.name !== 'keys') return common;
  return {
    ...common,
    rotate: { flags: [GRACE_FLAG], takesId: true, run: async ({ target, id, input, print }) => print.secret(await target.service.rotateKey(id, input, target.actor)) },
    revoke: keyAction('revokeKey'),
    block: keyAction('blockKey'),
    unblock: keyAction('unblockKey'),
  };
}

function checkFlags(spec: KindSpec, action: string, values: ParsedCommand['values']): void {
  for (const [a, b] of spec.exclusive) {
    if (values[a] !== undefined && values[b] !== undefined) throw new UsageError(`--${a} and --${b} cannot be used together.`);
  }
  if (action !== 'create') return;
  const missing = spec.requiredOnCreate.filter((f) => values[f] === undefined);
  if (missing.length > 0) throw new UsageError(`${spec.name} create needs ${missing.map((f) => `--${f}`).join(', ')}.`);
}

/** Opens the database or gateway the flags name, runs `work` on it, closes it. */
async function withTarget(values: ParsedCommand['values'], io: CliIO, work: (target: AdminTarget) => Promise<void>): Promise<void> {
  const target = await openAdminTarget(values, io);
  try {
    await work(target);
  } finally {
    await target.close();
  }
}

/** `tollgate keys secret`: a new random secret for a key declared in the config file; touches nothing. */
function runKeySecret(argv: string[], io: CliIO): Promise<number> {
  return execute(io, argv, { usage: KEYS.usage, flags: [JSON_FLAG], takesId: false }, (values) => async () => {
    const { secret, hash } = newSecret();
    io.out(values.json === true ? JSON.stringify({ key: secret, sha256: hash }, null, 2) : secret);
    io.err('A new secret for a key declared in the config: put it in an environment variable and reference it as `key: os.environ/NAME`. It is stored nowhere else.');
  });
}

/** `tollgate teams|tenants|keys ...` */
export async function runObjectCommand(spec: KindSpec, argv: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined) {
    io.err(`tollgate ${spec.name} needs a command.\n\n${spec.usage}`);
    return 2;
  }
  if (sub === 'help' || sub === '--help' || sub === '-h') {
    io.out(spec.usage);
    return 0;
  }
  if (spec.name === 'keys' && sub === 'secret') return runKeySecret(rest, io);
  const actions = actionsFor(spec);
  const action = Object.hasOwn(actions, sub) ? actions[sub] : undefined;
  if (!action) {
    const names = [...Object.keys(actions), ...(spec.name === 'keys' ? ['secret'] : [])];
    io.err(`unknown ${spec.name} command "${sub}"; one of: ${names.join(', ')}.\n\n${spec.usage}`);
    return 2;
  }
  const shape = { usage: spec.usage, flags: [...action.flags, ...TARGET_FLAGS], takesId: action.takesId };
  return execute(io, rest, shape, (values, id) => {
    checkFlags(spec, sub, values);
    const input = { ...inputFrom(values, action.flags), ...(sub === 'update' ? clearedFields(values, spec.updateFlags) : {}) };
    if (sub === 'update' && Object.keys(input).length === 0) throw new UsageError('update needs at least one option saying what to change.');
    const print = printer(io, values.json === true, spec.leading, spec.noun);
    return () => withTarget(values, io, (target) => action.run({ ops: spec.ops(target.service), target, id, input, print }));
  });
}

const AUDIT_FLAGS: readonly FieldFlag[] = [
  flag('actor', 'actor', 'string', 'who: master, key:<key_id>, cli:<user>, anonymous', 'A'),
  flag('action', 'action', 'string', 'what, e.g. key.rotate, team.create', 'X'),
  flag('type', 'object_type', 'string', 'team, tenant, key or limit', 'T', [...OBJECT_KINDS]),
  flag('object', 'object_id', 'string', 'the object\'s id', 'ID'),
  flag('since', 'since', 'string', 'from this ISO-8601 time (inclusive)', 'ISO'),
  flag('until', 'until', 'string', 'before this ISO-8601 time', 'ISO'),
  flag('limit', 'limit', 'int', 'entries per page (default 100)', 'N'),
  flag('before', 'before_seq', 'int', 'the next page: the seq printed after the previous one', 'SEQ'),
];

const AUDIT_COLUMNS: readonly Column[] = [{ field: 'seq' }, { field: 'at' }, { field: 'actor' }, { field: 'action' }, { field: 'object_type', header: 'TYPE' }, { field: 'object_id', header: 'OBJECT' }];

export const AUDIT_USAGE = `Usage:
  tollgate audit [filters]    admin actions, newest first

Filters:
${flagHelp(AUDIT_FLAGS, helpWidth([...AUDIT_FLAGS, ...TARGET_FLAGS]))}

Where:
${flagHelp(TARGET_FLAGS, helpWidth([...AUDIT_FLAGS, ...TARGET_FLAGS]))}`;

/** `tollgate audit ...` */
export function runAuditCommand(argv: string[], io: CliIO): Promise<number> {
  return execute(io, argv, { usage: AUDIT_USAGE, flags: [...AUDIT_FLAGS, ...TARGET_FLAGS], takesId: false }, (values) => {
    const query = inputFrom(values, AUDIT_FLAGS);
    const print = printer(io, values.json === true, [], 'audit entries');
    return () => withTarget(values, io, async (target) => print.page(await target.service.queryAudit(query), AUDIT_COLUMNS, '--before'));
  });
}

/** Entry from run-cli: `tollgate <teams|tenants|keys|audit> ...`. */
export function runAdminCommand(command: AdminCommand, argv: string[], io: CliIO): Promise<number> {
  return command === 'audit' ? runAuditCommand(argv, io) : runObjectCommand(KINDS[command], argv, io);
}
