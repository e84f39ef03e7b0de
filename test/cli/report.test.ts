import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { buildGpt2, buildHybrid } from '../models/build';
import { CLI, PAPER_PROMPT, REPO, tempDir } from '../fixtures';

/**
 * massive-activations report: a folder that holds the input, the settings, the versions, the
 * figures and each run's JSON, and regenerates: every command line it prints, run again, prints
 * that run's JSON.
 */
const root = tempDir('report');
const cli = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
const m = buildGpt2(root);

/** Timings differ run to run: everything else must not. */
const untimed = (json: string) => JSON.stringify(JSON.parse(json), (k, v) => (k === 'timing' ? undefined : v));

test('report: report.md with input, criterion and versions; SVG figures; JSON per run; every command line regenerates its JSON', () => {
  const dir = path.join(root, 'out');
  const r = cli(['report', m.file, '--prompt', PAPER_PROMPT, '--out', dir]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), path.join(dir, 'report.md'));
  const files = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(d, e.name)).map((f) => `${e.name}/${f}`) : [e.name]));
  // The planted model: massive from block 1 on; its strongest sinks where the planted attention sits.
  assert.deepEqual(files(dir).sort(), ['figures/attention-block-2.svg', 'figures/feature-map-block-1.svg', 'figures/overview.svg', 'report.md',
    'results/attention-block-2.json', 'results/feature-map-block-1.json', 'results/scan.json'].sort());
  const md = readFileSync(path.join(dir, 'report.md'), 'utf8');
  assert.match(md, new RegExp(`^> ${PAPER_PROMPT.replace('.', '\\.')}$`, 'm'));
  assert.match(md, /Massive: \|a\| > 100 and ≥ 1000× the block's median \|a\|/);
  const version = (f: string) => (JSON.parse(readFileSync(f, 'utf8')) as { version: string }).version;
  assert.ok(md.includes(`Massive Activations ${version(path.join(REPO, 'package.json'))} · ONNX Runtime (onnxruntime-node) ${version(path.join(REPO, 'node_modules', 'onnxruntime-node', 'package.json'))} · Node.js ${process.versions.node}`));
  assert.match(md, /in channels 7, 42\./);
  // Regenerates: each printed command line, run, prints the JSON beside it.
  const commands = [...md.matchAll(/```bash\n(.+)\n```/g)].map((x) => x[1]);
  const data = [...md.matchAll(/Data: \[(results\/[^\]]+)\]/g)].map((x) => x[1]);
  assert.equal(commands.length, 3);
  assert.deepEqual(data, ['results/scan.json', 'results/feature-map-block-1.json', 'results/attention-block-2.json']);
  commands.forEach((line, k) => {
    assert.ok(line.startsWith('massive-activations '), line);
    const again = spawnSync('sh', ['-c', `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} ${line.slice('massive-activations '.length)}`], { encoding: 'utf8', maxBuffer: 1 << 28 });
    assert.equal(again.status, 0, `${line}: ${again.stderr}`);
    assert.equal(untimed(again.stdout), untimed(readFileSync(path.join(dir, data[k]), 'utf8')), line);
  });
  // The figures: the planted cells in the massive colour (channels 7 and 42 on tokens 0, 4 and 8), a
  // triangle over each block the scan marks, and well-formed tags (no attribute twice).
  const svg = (f: string) => readFileSync(path.join(dir, 'figures', f), 'utf8');
  assert.equal(svg('feature-map-block-1.svg').match(/class="massive"/g)?.length, 6);
  const scan = JSON.parse(readFileSync(path.join(dir, 'results', 'scan.json'), 'utf8')) as { layers: { massive: unknown[] }[] };
  assert.equal(svg('overview.svg').match(/<path d="M/g)?.length, scan.layers.filter((l) => l.massive.length).length);
  for (const f of readdirSync(path.join(dir, 'figures'))) {
    const s = svg(f);
    assert.match(s, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    for (const tag of s.match(/<[a-z]+ [^>]*>/g) ?? []) {
      const names = [...tag.matchAll(/ ([a-z-]+)="/g)].map((x) => x[1]);
      assert.equal(new Set(names).size, names.length, `${f}: ${tag}`);
    }
    assert.match(s, /<title>[^<]+<\/title>/);
  }
});

test('report never replaces a file: a folder that is not empty is refused, and left as it was', () => {
  const dir = path.join(root, 'taken');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'report.md'), 'my notes');
  const r = cli(['report', m.file, '--out', dir]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /is a folder that is not empty: give a new or empty folder for the report/);
  assert.equal(readFileSync(path.join(dir, 'report.md'), 'utf8'), 'my notes');
  assert.deepEqual(readdirSync(dir), ['report.md']);
});

test('a model with no attention to read sinks from says why Figure 3 is missing', () => {
  const h = buildHybrid(root, 'mamba');
  const dir = path.join(root, 'hybrid');
  const r = cli(['report', h.file, '--prompt', PAPER_PROMPT, '--out', dir]);
  assert.equal(r.status, 0, r.stderr);
  const md = readFileSync(path.join(dir, 'report.md'), 'utf8');
  // Its attention blocks have heads: a Figure 3 of one of them, or the reason there is none.
  assert.match(md, /### Figure 3[^\n]*\n\n(!\[Block \d+: attention probabilities\]|Not drawn: .+\.)/);
});
