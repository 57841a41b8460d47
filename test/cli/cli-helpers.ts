// Runs the CLI in-process with captured output, and writes temp config files, for the admin
// command tests.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, type CliIO } from '../../src/cli/run-cli.ts';

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

export async function cli(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = { out: (t) => out.push(t), err: (t) => err.push(t), env };
  const code = await runCli(argv, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** The CLI's stdout as JSON, after checking it exited 0. */
export async function cliJson<T = any>(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<T> {
  const result = await cli([...argv, '--json'], env);
  if (result.code !== 0) throw new Error(`${argv.join(' ')} exited ${result.code}: ${result.err}`);
  return JSON.parse(result.out) as T;
}

/** A temp dir holding config.yaml whose database is <dir>/t.db, plus `extra` YAML. */
export function dbConfig(extra = ''): { dir: string; file: string; db: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-admin-cli-'));
  const db = join(dir, 't.db');
  const file = join(dir, 'config.yaml');
  writeFileSync(file, `database:\n  url: "sqlite:${db}"\n${extra}`);
  return { dir, file, db };
}
