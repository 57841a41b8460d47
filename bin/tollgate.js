#!/usr/bin/env node
// The `tollgate` command. Runs on Node >= 24, which executes the TypeScript sources directly.
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  process.stderr.write(`tollgate needs Node.js 24 or newer (this is ${process.version}). Run it through npm (npx tollgate, npm start), which uses the project's pinned Node.\n`);
  process.exit(1);
}
await import('../src/main.ts');
