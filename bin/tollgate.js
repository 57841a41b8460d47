#!/usr/bin/env -S node --max-semi-space-size=8
// The `tollgate` command. Runs the compiled gateway (dist/, built by `npm ci` and `npm run build`).
// --max-semi-space-size=8 caps V8's young generation: about 100 MB less resident memory under
// load for the same throughput (docs/operations.md).
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  process.stderr.write(`tollgate needs Node.js 24 or newer (this is ${process.version}). Run it through npm (npx tollgate, npm start), which uses the project's pinned Node.\n`);
  process.exit(1);
}
try {
  await import('../dist/main.js');
} catch (err) {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes('dist/main.js')) throw err;
  process.stderr.write('tollgate is not built yet: run `npm run build` (npm ci does it for you).\n');
  process.exit(1);
}
