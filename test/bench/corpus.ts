import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, statSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { buildGpt2 } from '../models/build';
import { vocabulary } from '../models/tokenizer';
import { CLI } from '../fixtures';

/**
 * scan-many over a text file asks for count × seq-len tokens: its cost must follow that, not the
 * file's size (issue 25: 10 MB of ordinary lines for 2 × 64 tokens ran for more than 120 s). The CLI
 * runs as a user runs it, one whole process per measurement, on 100 KB, 10 MB and 100 MB files.
 */
const SIZES = [100 * 1024, 10 * 2 ** 20, 100 * 2 ** 20];
const RUNS = 3;

/** Ordinary lines of words the planted tokenizer knows, written in 1 MB pieces. */
function corpusFile(dir: string, bytes: number): string {
  const file = path.join(dir, `corpus-${bytes}.txt`);
  if (existsSync(file) && statSync(file).size === bytes) return file;
  const words = vocabulary().slice(10);
  let s = 7;
  const rnd = () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
  const fd = openSync(file, 'w');
  let left = bytes;
  while (left > 0) {
    let chunk = '';
    while (chunk.length < Math.min(left, 2 ** 20)) {
      chunk += `${Array.from({ length: 5 + Math.floor(rnd() * 20) }, () => words[Math.floor(rnd() * words.length)]).join(' ')}.\n`;
    }
    const b = Buffer.from(chunk.slice(0, Math.min(left, 2 ** 20)));
    writeSync(fd, b);
    left -= b.length;
  }
  closeSync(fd);
  return file;
}

export function corpusCost(cacheDir: string): { bytes: number; medianMs: number; inputs: number }[] {
  const dir = path.join(cacheDir, 'corpus');
  mkdirSync(dir, { recursive: true });
  const model = existsSync(path.join(dir, 'gpt2-planted', 'model.onnx')) ? path.join(dir, 'gpt2-planted', 'model.onnx') : buildGpt2(dir).file;
  return SIZES.map((bytes) => {
    const file = corpusFile(dir, bytes);
    const times: number[] = [];
    let inputs = 0;
    for (let k = 0; k < RUNS; k++) {
      const t0 = performance.now();
      const r = spawnSync(process.execPath, [CLI, 'scan-many', model, '--text-file', file, '--count', '2', '--seq-len', '64', '--json'], { encoding: 'utf8', maxBuffer: 1 << 28 });
      times.push(performance.now() - t0);
      if (r.status !== 0) throw new Error(`scan-many on ${bytes} bytes failed: ${r.stderr}`);
      inputs = JSON.parse(r.stdout).inputs;
    }
    times.sort((a, b) => a - b);
    return { bytes, medianMs: times[Math.floor(RUNS / 2)], inputs };
  });
}
