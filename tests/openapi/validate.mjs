#!/usr/bin/env node
// Validates the OpenAPI document against the OpenAPI 3 schema and checks that every
// $ref resolves (swagger-parser). Exits 0 when valid; prints the error and exits 1
// otherwise.
//
//   node tests/openapi/validate.mjs [path]    (default: src/api/openapi.json)
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const file = path.resolve(process.argv[2] ?? path.join(repo, 'src', 'api', 'openapi.json'));

let SwaggerParser;
try {
  ({ default: SwaggerParser } = await import('@apidevtools/swagger-parser'));
} catch (e) {
  console.error(`openapi: cannot load @apidevtools/swagger-parser (${e.message}); run \`npm ci\` ` +
                '(scripts/setup does) in the repository first');
  process.exit(2);
}

let doc;
try {
  doc = JSON.parse(await readFile(file, 'utf8'));
} catch (e) {
  console.error(`openapi: ${file}: ${e.message}`);
  process.exit(1);
}

const problems = [];
try {
  // validate() dereferences the document in place: keep the original for the checks below.
  await SwaggerParser.validate(structuredClone(doc));
} catch (e) {
  problems.push(e.message);
}

// Checks beyond the schema: what our API promises and a schema cannot express.
const methods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const opIds = new Map();
for (const [p, item] of Object.entries(doc.paths ?? {})) {
  for (const m of methods) {
    const op = item[m];
    if (!op) continue;
    const where = `${m.toUpperCase()} ${p}`;
    if (!op.operationId) problems.push(`${where}: no operationId`);
    else if (opIds.has(op.operationId)) problems.push(`${where}: operationId ${op.operationId} also used by ${opIds.get(op.operationId)}`);
    else opIds.set(op.operationId, where);
    if (!op.responses || Object.keys(op.responses).length === 0) problems.push(`${where}: no responses`);
    const secured = (op.security ?? doc.security ?? []).length > 0;
    if (secured && !op.responses?.['401']) problems.push(`${where}: secured but no 401 response`);
  }
}

if (problems.length > 0) {
  console.error(`openapi: ${path.relative(process.cwd(), file) || file} is INVALID:`);
  for (const p of problems) console.error(`  - ${p}`);
  process.exit(1);
}
console.log(`openapi: ${path.relative(process.cwd(), file) || file} is a valid OpenAPI ${doc.openapi} ` +
            `document (${Object.keys(doc.paths).length} paths, ${opIds.size} operations)`);
