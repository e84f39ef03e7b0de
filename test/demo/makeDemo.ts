/**
 * Writes the bundled demo model: the planted GPT-2 (TorchScript layout) with its tokenizer, into
 * demo/gpt2-planted/ (or the folder given). Generated, never committed: it is a few MB.
 */
import * as path from 'node:path';
import { buildGpt2 } from '../models/build';

const root = path.resolve(process.argv[2] ?? path.join(__dirname, '..', '..', 'demo'));
const m = buildGpt2(root);
process.stdout.write(`demo model written to ${path.relative(process.cwd(), m.file) || m.file}\n`);
