// Writes media/schemas/spec.schema.json from src/core/runs/specSchema.ts (`npm run schemas`); the unit test
// test/unit/core/runs/specSchema.test.ts fails while the shipped file differs from what this writes.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runSpecSchema } from '../src/core/runs/specSchema';

const out = join(__dirname, '..', 'media', 'schemas', 'spec.schema.json');
writeFileSync(out, JSON.stringify(runSpecSchema(), null, 2) + '\n');
console.log(`wrote ${out}`);
