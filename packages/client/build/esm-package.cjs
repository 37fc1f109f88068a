// Marks dist/esm as ES modules: the package itself is CommonJS (no "type"), so Node needs
// this one-line package.json to load the ESM build that "exports" → "import" points at.
const { mkdirSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const dir = join(__dirname, '..', 'dist', 'esm');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
