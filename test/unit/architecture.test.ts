/**
 * The layout is part of the design: the engine in layers whose imports point one way (base →
 * measure → model → run), one home per experiment, the extension host without the engine. These
 * tests read the tree and the host's bundle; the planted cases show each check can fail.
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BuildOptions, Metafile } from 'esbuild';
import { cycles, directionViolations, filesDirectlyIn, foldersNamed, readImports, ROOT, sourceFiles, type Edge } from './layout';

const MAX_ENGINE_ROOT_FILES = 8;
const MAX_EXTENSION_BYTES = 200 * 1024;
/** Packages the host must not carry: the runtime, the ONNX parser, the tokenizer, the image decoders. */
const ENGINE_PACKAGES = /node_modules\/(onnxruntime-node|onnxruntime-common|onnx-buf|@bufbuild\/protobuf|@huggingface\/tokenizers|pngjs|jpeg-js)\//;
/** Sources that run models: the run layer, the experiments' worker halves and their map. */
const ENGINE_SOURCES = /^src\/(engine\/run\/|experiments\/[^/]+\/run\.ts$|experiments\/runners\.ts$|worker\/worker\.ts$)/;

describe('the house', () => {
  const { edges, packages } = readImports(sourceFiles());

  it('imports point one way: engine layers, experiment halves, front ends', () => {
    assert.deepEqual(directionViolations(edges, packages), []);
  });

  it('has no import cycle in src/ or webview/, type imports included', () => {
    assert.deepEqual(cycles(edges), []);
  });

  it('has one folder named experiments and at most 8 files directly in src/engine', () => {
    assert.deepEqual(foldersNamed('experiments'), [path.join('src', 'experiments')]);
    const root = filesDirectlyIn('src/engine');
    assert.ok(root.length <= MAX_ENGINE_ROOT_FILES, `src/engine holds ${root.length} files directly: ${root.join(', ')}`);
  });

  it('keeps every experiment in its own folder: a front-end half, and a worker half the runners name', () => {
    const halves = sourceFiles().map((f) => f.split(path.sep).join('/')).filter((f) => /^src\/experiments\/[^/]+\/(run|view)\.ts$/.test(f));
    const byName = new Map<string, string[]>();
    for (const f of halves) {
      const [, , name, file] = f.split('/');
      byName.set(name, [...(byName.get(name) ?? []), file].sort());
    }
    const runners = readFileSync(path.join(ROOT, 'src/experiments/runners.ts'), 'utf8');
    for (const [name, files] of byName) {
      // The engine's own calls (inspect, scan) have views only: the engine process serves them directly.
      const own = name === 'inspect' || name === 'scan';
      assert.deepEqual(files, own ? ['view.ts'] : ['run.ts', 'view.ts'], `src/experiments/${name}`);
      if (!own) assert.ok(runners.includes(`from './${name}/run'`), `runners.ts does not run src/experiments/${name}`);
    }
    assert.ok(byName.size >= 10, `only ${byName.size} folders in src/experiments`);
  });

  it('builds the extension host without the engine: small, and unable to load ONNX Runtime', async () => {
    const esbuild = await import('esbuild');
    const { extensionBundle } = await import(pathToFileURL(path.join(ROOT, 'esbuild.mjs')).href) as { extensionBundle: BuildOptions };
    const r = await esbuild.build({ ...extensionBundle, absWorkingDir: ROOT, write: false, metafile: true, sourcemap: false, logLevel: 'silent' });
    const problems = bundleProblems(r.metafile!, r.outputFiles![0].contents.byteLength, r.outputFiles![0].text);
    assert.deepEqual(problems, []);
  });
});

/** What makes the host's bundle carry the engine, one sentence each. */
function bundleProblems(meta: Metafile, bytes: number, text: string): string[] {
  const out: string[] = [];
  if (bytes >= MAX_EXTENSION_BYTES) out.push(`extension.js is ${Math.round(bytes / 1024)} KB (limit ${MAX_EXTENSION_BYTES / 1024} KB)`);
  for (const input of Object.keys(meta.inputs)) {
    if (ENGINE_PACKAGES.test(input)) out.push(`extension.js bundles ${input}`);
    if (ENGINE_SOURCES.test(input)) out.push(`extension.js bundles ${input}, which runs models`);
  }
  for (const o of Object.values(meta.outputs)) {
    for (const i of o.imports) if (/onnxruntime/.test(i.path)) out.push(`extension.js imports ${i.path} (${i.kind})`);
  }
  if (/require\(["']onnxruntime/.test(text)) out.push('extension.js requires onnxruntime-node');
  return out;
}

describe('the house rules fail on violations', () => {
  const e = (from: string, to: string, typeOnly = false): Edge => ({ from, to, typeOnly });

  it('an engine layer importing a higher one, types included', () => {
    assert.equal(directionViolations([e('src/engine/model/inspect.ts', 'src/engine/run/session.ts', true)], []).length, 1);
    assert.equal(directionViolations([e('src/engine/base/files.ts', 'src/engine/measure/stats.ts')], []).length, 1);
    assert.deepEqual(directionViolations([e('src/engine/run/scan.ts', 'src/engine/model/inspect.ts')], []), []);
  });

  it('a front half or the host reaching a worker half, the runners or ONNX Runtime', () => {
    assert.equal(directionViolations([e('src/experiments/compare/view.ts', 'src/experiments/compare/run.ts')], []).length, 1);
    assert.deepEqual(directionViolations([e('src/experiments/compare/view.ts', 'src/experiments/compare/run.ts', true)], []), []);
    assert.equal(directionViolations([e('src/host/panel.ts', 'src/experiments/runners.ts')], []).length, 1);
    assert.equal(directionViolations([e('src/host/panel.ts', 'src/engine/run/scan.ts')], []).length, 1);
    assert.equal(directionViolations([], [{ from: 'src/engine/model/inspect.ts', name: 'onnxruntime-node', typeOnly: true }]).length, 1);
    assert.equal(directionViolations([], [{ from: 'src/cli/main.ts', name: 'vscode', typeOnly: false }]).length, 1);
  });

  it('a cycle of two files, and one through three', () => {
    assert.deepEqual(cycles([e('a.ts', 'b.ts'), e('b.ts', 'a.ts', true)]), [['a.ts', 'b.ts']]);
    assert.deepEqual(cycles([e('a.ts', 'b.ts'), e('b.ts', 'c.ts'), e('c.ts', 'a.ts'), e('c.ts', 'd.ts')]), [['a.ts', 'b.ts', 'c.ts']]);
    assert.deepEqual(cycles([e('a.ts', 'b.ts'), e('b.ts', 'c.ts')]), []);
  });

  it('a host bundle that carries the engine', () => {
    const meta: Metafile = {
      inputs: { 'src/engine/run/session.ts': { bytes: 1, imports: [] }, 'node_modules/onnx-buf/dist/index.js': { bytes: 1, imports: [] } },
      outputs: { 'dist/extension.js': { bytes: 1, inputs: {}, imports: [{ path: 'onnxruntime-node', kind: 'require-call', external: true }], exports: [] } },
    };
    assert.equal(bundleProblems(meta, 300 * 1024, 'require("onnxruntime-node")').length, 5);
  });
});

describe('the editor shows a wrong import as it is typed (ESLint mirrors the rules)', () => {
  const cases: { file: string; code: string; wrong: boolean }[] = [
    { file: 'src/engine/model/planted.ts', code: "import { openModel } from '../run/session';", wrong: true },
    { file: 'src/engine/model/planted.ts', code: "import * as ort from 'onnxruntime-node';", wrong: true },
    { file: 'src/engine/base/planted.ts', code: "import { blockStats } from '../measure/stats';", wrong: true },
    { file: 'src/engine/run/planted.ts', code: "import { EXPERIMENTS } from '../../experiments/registry';", wrong: true },
    { file: 'src/experiments/compare/view.ts', code: "import { compare } from './run';", wrong: true },
    { file: 'src/host/planted.ts', code: "import { scanModel } from '../engine/run/scan';", wrong: true },
    { file: 'src/host/planted.ts', code: "import { RUNNERS } from '../experiments/runners';", wrong: true },
    { file: 'webview/inspector/planted.ts', code: "import { printable } from '../../src/engine/base/text';", wrong: true },
    { file: 'src/engine/run/planted.ts', code: "import { inspectTarget } from '../model/inspect';", wrong: false },
    { file: 'src/experiments/compare/view.ts', code: "import type { CompareResult } from './run';", wrong: false },
    { file: 'src/host/planted.ts', code: "import type { ScanOptions } from '../engine/run/scanFile';", wrong: false },
    { file: 'webview/inspector/planted.ts', code: "import { binAxis } from '../../src/engine/measure/bins';", wrong: false },
  ];
  it('flags each planted wrong import and passes the right ones', async () => {
    const { ESLint } = await import('eslint');
    const eslint = new ESLint({ cwd: ROOT });
    for (const c of cases) {
      const [r] = await eslint.lintText(`${c.code}\nexport const planted = 1;\n`, { filePath: path.join(ROOT, c.file) });
      const flagged = r.messages.some((m) => m.ruleId === '@typescript-eslint/no-restricted-imports');
      assert.equal(flagged, c.wrong, `${c.file}: ${c.code}`);
    }
  });
});
