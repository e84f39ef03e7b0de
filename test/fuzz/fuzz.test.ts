import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { isEngineError, userMessage } from '../../src/engine/base/errors';
import { terminalSafe } from '../../src/engine/base/text';
import { EngineClient } from '../../src/worker/client';
import { inspectText } from '../../src/experiments/inspect/view';
import { scanJson, scanTable } from '../../src/experiments/scan/view';
import { buildEmbedPair, buildGpt2, buildHybrid, buildLlama, buildSeq2Seq, buildVit } from '../models/build';
import { toFunctions } from '../models/layouts/variants';
import { CLI, fingerprint, tempDir, WORKER } from '../fixtures';
import { applyRecipe, randomRecipe, sizesOf, type Base, type FolderBase, type Recipe } from './mutate';
import { unexpected, writeInputs } from './inputs';
import { cliWording } from '../../src/shared/cliWording';
import type { ScanResult } from '../../src/engine/model/results';

/**
 * Issue 9's fuzz harness: a few hundred seeded mutations of the project's own test models, each
 * inspected and scanned by the real engine process. For every case: an answer within the time
 * bound, a result or a sentence (no stack trace, no "Internal error", no crash of the engine, no
 * raw control character), bounded memory, and the case's folder unchanged. The corpus holds the
 * recipes of cases that once failed; they also run through the real CLI.
 */

const CASES = Number(process.env.FUZZ_CASES ?? 500);
const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
/** The slowest case seen here takes well under a second; a case past this hangs. */
const TIME_BOUND_MS = 20_000;
/** The test models are a few MB: an engine past this allocated something the file only declared. */
const MEMORY_BOUND_BYTES = 1.5 * 2 ** 30;
const CORPUS = path.join(__dirname, 'corpus.json');

const root = tempDir('fuzz');
const bases = {} as Record<Base, string>;
const folders = {} as Record<FolderBase, string>;
let client: EngineClient;
const worst = { ms: 0, msCase: '', rss: 0, rssCase: '' };
const outcomes = new Map<string, number>();

before(() => {
  assert.ok(existsSync(WORKER), `${WORKER} is missing: run "npm run build" first (npm test does)`);
  bases.gpt2 = buildGpt2(root).file;
  bases['llama-ext'] = buildLlama(root, 'llama-ext', { externalData: 'model.onnx_data' }).file;
  bases.vit = buildVit(root).file;
  bases.hybrid = buildHybrid(root, 'mamba').file;
  bases.functions = buildLlama(root, 'llama-functions', { transform: toFunctions }).file;
  folders.t5 = buildSeq2Seq(root).dir;
  folders.vlm = buildEmbedPair(root).dir;
  // FUZZ_WORKER replays the cases against another build's engine (how the corpus was found).
  client = new EngineClient(process.env.FUZZ_WORKER ?? WORKER);
});

after(async () => {
  await client?.dispose();
  const summary = [...outcomes].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ');
  process.stdout.write(`# fuzz: ${CASES} cases (seed ${SEED}); worst time ${worst.ms.toFixed(0)} ms (${worst.msCase}); worst engine peak RSS ${(worst.rss / 2 ** 20).toFixed(0)} MB (${worst.rssCase}); outcomes: ${summary}\n`);
});

/** Peak resident memory of a process since the last reset (Linux); resets it for the next case. */
function peakRss(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    try { writeFileSync(`/proc/${pid}/clear_refs`, '5'); } catch { /* not permitted: the peak then spans cases, a stricter bound */ }
    return hwm ? Number(hwm[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** The problems with one engine answer, as sentences (empty: the answer is acceptable). */
function judge(what: string, e: unknown): string[] {
  if (!e) return [];
  if (!isEngineError(e)) return [`${what}: not an EngineError: ${String((e as Error)?.message ?? e)}`];
  const problems: string[] = [];
  if (e.code === 'worker-crashed') problems.push(`${what}: the engine process crashed: ${e.message}`);
  // "Internal:" marks the engine's own should-not-happen checks (a segment reading a tensor of unknown type).
  if (/Internal( error)?:/.test(e.message)) problems.push(`${what}: ${e.message}`);
  if (/\n\s+at |onnxruntime_src|onnxruntime::/.test(e.message)) problems.push(`${what}: developer detail in the message: ${e.message.slice(0, 300)}`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(e.message)) problems.push(`${what}: raw control character in: ${JSON.stringify(e.message.slice(0, 200))}`);
  return problems;
}

async function bounded<T>(what: string, p: { id: number; result: Promise<T> }): Promise<{ value?: T; error?: unknown; ms: number; timedOut: boolean }> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), TIME_BOUND_MS); });
  try {
    const v = await Promise.race([p.result, timeout]);
    if (v === 'timeout') { await client.cancel(p.id); return { ms: performance.now() - t0, timedOut: true }; }
    return { value: v as T, ms: performance.now() - t0, timedOut: false };
  } catch (e) {
    return { error: e, ms: performance.now() - t0, timedOut: false };
  } finally {
    clearTimeout(timer);
  }
}

async function runCase(label: string, recipe: Recipe): Promise<string[]> {
  const dir = path.join(root, label);
  const file = applyRecipe(recipe, { ...bases, ...folders }, dir);
  // Input cases: their feed files sit beside the case's folder, which must stay unchanged.
  const given = recipe.input && writeInputs(recipe.input, file, `${dir}-inputs`);
  const before = fingerprint(dir);
  const problems: string[] = [];
  const inspect = await bounded('inspect', client.call('inspect', { file }));
  const options = given?.options ?? (recipe.base === 'vit' ? {} : { ids: [1, 10, 11, 12, 3] });
  const compare = given?.method === 'compare';
  const call = (): { id: number; result: Promise<unknown> } => (compare
    ? client.call('compare', { file, options: options as never }) : client.call('scan', { file, options }));
  const scanned = inspect.value ? await bounded('scan', call()) : undefined;
  if (recipe.input) {
    problems.push(...(scanned ? unexpected(recipe.input, scanned, scanned.error ? userMessage(scanned.error, cliWording) : undefined) : ['inspect failed']));
  }
  const steps: [string, { error?: unknown; ms: number; timedOut: boolean }][] = [['inspect', inspect], ...(scanned ? [['scan', scanned] as [string, typeof scanned]] : [])];
  for (const [what, r] of steps) {
    if (r.timedOut) problems.push(`${what}: no answer within ${TIME_BOUND_MS / 1000} s`);
    problems.push(...judge(what, r.error));
    if (r.ms > worst.ms) Object.assign(worst, { ms: r.ms, msCase: label });
    const outcome = r.timedOut ? 'timeout' : r.error ? (isEngineError(r.error) ? r.error.code : 'error') : 'ok';
    outcomes.set(`${what}:${outcome}`, (outcomes.get(`${what}:${outcome}`) ?? 0) + 1);
  }
  // What a front end prints from a result must format, and arrive free of control sequences.
  const scan = compare ? undefined : scanned?.value as ScanResult | undefined;
  if (scan) {
    try {
      const text = terminalSafe(scanTable(scan));
      // eslint-disable-next-line no-control-regex
      if (/[\u001b\u0007\u009b]/.test(text)) problems.push('scan table: raw control sequence');
      JSON.stringify(scanJson(scan));
    } catch (e) {
      problems.push(`formatting the scan threw: ${(e as Error).message}`);
    }
  }
  if (inspect.value) {
    try { inspectText(inspect.value); } catch (e) { problems.push(`formatting inspect threw: ${(e as Error).message}`); }
  }
  const rss = peakRss(client.pid);
  if (rss > worst.rss) Object.assign(worst, { rss, rssCase: label });
  if (rss > MEMORY_BOUND_BYTES) problems.push(`the engine peaked at ${(rss / 2 ** 30).toFixed(2)} GB`);
  if (fingerprint(dir) !== before) problems.push('the case folder changed');
  return problems;
}

describe('fuzzed models: every case answers in time, in sentences, within memory, without touching its files', () => {
  test(`${CASES} seeded mutations`, { timeout: 15 * 60_000 }, async () => {
    const sizes = Object.fromEntries(Object.entries(bases).map(([k, f]) => [k, sizesOf(f)])) as Record<Base, ReturnType<typeof sizesOf>>;
    const failures: string[] = [];
    const report: Recipe[] = [];
    for (let k = 0; k < CASES; k++) {
      const recipe = randomRecipe(SEED + k, sizes);
      const problems = await runCase(`case-${k}`, recipe);
      if (problems.length) {
        failures.push(`case ${k} ${JSON.stringify(recipe)}:\n  ${problems.join('\n  ')}`);
        report.push({ ...recipe, note: problems.join(' | ').slice(0, 300) });
      }
    }
    // FUZZ_REPORT: the failing recipes as JSON, ready to become corpus entries.
    if (process.env.FUZZ_REPORT) writeFileSync(process.env.FUZZ_REPORT, JSON.stringify(report, null, 1));
    assert.deepEqual(failures, [], `${failures.length} of ${CASES} cases failed:\n${failures.slice(0, 20).join('\n')}`);
  });
});

describe('the corpus of cases that once failed', () => {
  const corpus: Recipe[] = existsSync(CORPUS) ? JSON.parse(readFileSync(CORPUS, 'utf8')) : [];
  test('is not empty', () => assert.ok(corpus.length > 0, `${CORPUS} holds no cases`));
  for (const [k, recipe] of corpus.entries()) {
    test(`#${k} ${recipe.note ?? JSON.stringify(recipe.mutations)} (engine and CLI)`, async () => {
      assert.deepEqual(await runCase(`corpus-${k}`, recipe), []);
      // Through the real CLI as well: a sentence on stderr and an exit code, or a result.
      const dir = path.join(root, `corpus-${k}`);
      const file = recipe.base in folders ? dir : path.join(dir, 'model.onnx');
      const given = recipe.input && writeInputs(recipe.input, file, `${dir}-inputs`);
      const args = given ? [given.method, file, ...given.args, '--json'] : ['scan', file, ...(recipe.base === 'vit' ? [] : ['--ids', '1,10,11,12,3'])];
      const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: TIME_BOUND_MS });
      assert.equal(r.signal, null, 'the CLI answered in time');
      if (r.status !== 0) {
        assert.match(r.stderr, /^massive-activations: [^\n]+\n$/, 'one line on stderr');
        assert.doesNotMatch(r.stderr, /Internal( error)?:|Unexpected error|\n\s+at /);
      }
      if (recipe.input) {
        const answer = r.status === 0 ? { value: JSON.parse(r.stdout) } : { error: new Error(r.stderr) };
        assert.deepEqual(unexpected(recipe.input, answer), [], `the CLI: ${args.join(' ')}`);
      }
      // eslint-disable-next-line no-control-regex
      assert.ok(!/[\u001b\u0007\u009b]/.test(r.stdout + r.stderr), 'no raw control sequence reaches the terminal');
    });
  }
});
