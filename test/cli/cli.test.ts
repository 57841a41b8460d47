import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli, type CliIO } from '../../src/cli/run-cli.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLE = join(ROOT, 'config/tollgate.example.yaml');

function io(env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const value: CliIO = { out: (t) => out.push(t), err: (t) => err.push(t), env };
  return { value, out, err };
}

function tempConfig(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'tollgate-cli-')), 'config.yaml');
  writeFileSync(file, text);
  return file;
}

test('validate-config: the example is OK and notes disabled aliases', async () => {
  const cap = io();
  assert.equal(await runCli(['validate-config', EXAMPLE], cap.value), 0);
  assert.match(cap.out.at(-1)!, /OK \(native format, 4 aliases, 5 deployments\)/);
  assert.ok(cap.out.some((l) => l.includes('alias claude-sonnet is disabled until ANTHROPIC_API_KEY is set')));
});

test('validate-config: prints every problem and exits 1', async () => {
  const file = tempConfig('server: { prot: 1 }\nmodels:\n  a:\n    deployments:\n      - { provider: opnai, model: x }\n');
  const cap = io();
  assert.equal(await runCli(['validate-config', file], cap.value), 1);
  const text = cap.err.join('\n');
  assert.match(text, /2 config problems/);
  assert.match(text, /server\.prot: unknown key "prot"\. Did you mean "port"\?/);
  assert.match(text, /models\.a\.deployments\[0\]\.provider: invalid value "opnai"\. Did you mean "openai"\?/);
});

test('validate-config: a missing file is a clear error', async () => {
  const cap = io();
  assert.equal(await runCli(['validate-config', '/nonexistent/tollgate.yaml'], cap.value), 1);
  assert.match(cap.err.join('\n'), /cannot read the file \(ENOENT\)/);
});

test('usage errors exit 2 with the usage text', async () => {
  for (const argv of [[], ['frobnicate'], ['serve'], ['serve', '--config', EXAMPLE, '--port', 'abc'], ['--bogus']]) {
    const cap = io();
    assert.equal(await runCli(argv, cap.value), 2, argv.join(' '));
    assert.ok(cap.err.join('\n').length > 0, argv.join(' '));
  }
});

test('serve refuses a non-loopback host without a master key', async () => {
  const cap = io();
  assert.equal(await runCli(['serve', '--config', EXAMPLE, '--host', '0.0.0.0', '--port', '0'], cap.value), 1);
  assert.match(cap.err.join('\n'), /refusing to listen on 0\.0\.0\.0\. Set TOLLGATE_MASTER_KEY/);
});

test('the tollgate bin runs through npx and prints every config problem', () => {
  const file = tempConfig('models:\n  a:\n    deployments:\n      - { provider: openai, model: gpt-4o, api_key: os.environ/NOPE_NOT_SET }\n');
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${join(ROOT, 'node_modules/.bin')}:${process.env.PATH}` };
  delete env.NOPE_NOT_SET;
  const result = spawnSync('npx', ['--no-install', 'tollgate', 'validate-config', file], { cwd: ROOT, env, encoding: 'utf8' });
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stderr, /environment variable NOPE_NOT_SET is not set/);
});

test('serve will not start on a database without the schema when migrations are off', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-cli-'));
  const file = tempConfig(`database: { url: "sqlite:${join(dir, 'empty.db')}", migrate_on_start: false }\nmodels: {}\n`);
  const cap = io({ TOLLGATE_MASTER_KEY: 'sk-cli-test-key' });
  assert.equal(await runCli(['serve', '--config', file, '--port', '0'], cap.value), 1);
  assert.match(cap.err.join('\n'), /Cannot start: The database sqlite:.*empty\.db has no Tollgate schema yet .*Run `tollgate migrate --config FILE` first/);
});

test('serve starts, answers readiness, and exits 0 on SIGTERM', async () => {
  const child = spawn(process.execPath, [join(ROOT, 'src/main.ts'), 'serve', '--config', EXAMPLE, '--port', '0'], { env: { PATH: process.env.PATH, TOLLGATE_MASTER_KEY: 'sk-cli-test-key' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line: ${output}`)), 10_000);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /"msg":"tollgate listening","url":"([^"]+)"/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
  });
  const ready = await fetch(`${url}/health/ready`);
  assert.equal(ready.status, 200);
  const models = await fetch(`${url}/v1/models`, { headers: { authorization: 'Bearer sk-cli-test-key' } });
  assert.equal(((await models.json()) as { data: unknown[] }).data.length, 4);
  const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  assert.equal(await exit, 0);
  assert.doesNotMatch(output, /sk-cli-test-key/, 'the master key never appears in logs');
});
