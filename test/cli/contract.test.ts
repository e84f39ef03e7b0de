import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { buildCheckpoints, buildGpt2, buildSeq2Seq, buildVariantFolder, buildVit } from '../models/build';
import { png } from '../models/hostile';
import { tokenizerJson } from '../models/tokenizer';
import { BOOLEAN, VALUED } from '../../src/cli/args';
import { CLI, PAPER_PROMPT, REPO, tempDir } from '../fixtures';

/**
 * Issue 20: the README's "The command line" section and `--help` as a tested contract. Every form
 * they document — a subcommand alone, or a subcommand with one option — is read from them, run end
 * to end on the project's own small models, and checked for a fact showing the option took effect
 * (or for the refusal that names what to do instead). A documented form without a runner, a runner
 * for a form no longer documented, and an option the parser accepts that nothing documents all fail.
 */

// ---------------------------------------------------------------------------------------------
// What the README and --help document.

const README = readFileSync(path.join(REPO, 'README.md'), 'utf8');
const HELP = existsSync(CLI) ? spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' }).stdout : '';
const OPTION = /--[a-z][a-z0-9-]*/g;
const optionsIn = (s: string) => [...s.matchAll(OPTION)].map((m) => m[0]);

/** The README from `heading` to the next heading of the same or a higher level. */
function readmeSection(heading: string): string {
  const start = README.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `README.md has no "${heading}" heading`);
  const level = heading.indexOf(' ');
  const rest = README.slice(start + heading.length + 2);
  const end = rest.search(new RegExp(`^#{1,${level}} `, 'm'));
  return end < 0 ? rest : rest.slice(0, end);
}

/** --help's section `name` ("Usage", "Inputs", …): its lines up to the first blank line. */
function helpSection(name: string): string[] {
  const start = HELP.indexOf(`\n${name}:\n`);
  if (start < 0) return [];
  const body = HELP.slice(start + name.length + 3);
  const end = body.indexOf('\n\n');
  return (end < 0 ? body : body.slice(0, end)).split('\n');
}

/** The subcommands, in --help's order: each usage line's first word. */
const COMMANDS = helpSection('Usage').map((l) => /^\s+massive-activations (\S+)/.exec(l)?.[1]).filter((c): c is string => !!c);

/** Options --help lists in its shared sections (Inputs, Output, Settings), by the option column. */
const HELP_SHARED = new Set(['Inputs', 'Output', 'Settings'].flatMap((s) => helpSection(s)
  .map((l) => /^ {2}(--\S.*?)(?: {2,}|$)/.exec(l)?.[1] ?? '').flatMap(optionsIn)));

/**
 * Which subcommands each shared option of --help is documented for: --help lists them once for all
 * commands, so this is the reading of it this contract holds the CLI to.
 * - --json and --out: every command; --csv: every command with a table (all but inspect, as the
 *   README says).
 * - Inputs: --prompt, --prompt-file and --ids for every command that runs the model on an input of
 *   tokens (fix-reg-mean runs images only); --image where the usage line lists it (intervene refuses
 *   vision models, scan-many and fix-reg-mean take --images / --image-dir); --feed for the commands
 *   that run one input (not scan-many: many inputs, and fix-reg-mean: images); --variant for inspect
 *   and every command reading the model's input options; --decoder-ids for scan alone (its usage
 *   line; the experiments have no decoder input); --replace-invalid-utf8 wherever a text file is read.
 * - Settings: --top where results list the top activations per block (scan, compare; scan-many's
 *   are top-1/2/3); the thresholds where massive activations are classified (not sink-rate, which
 *   measures attention only); --count and --seq-len where several inputs are drawn (scan-many,
 *   compare, intervene's mean and perplexity texts; fix-reg-mean's --count images); --max-tokens,
 *   --whole-graph and --memory-limit-mb for the commands that run a model on tokens; --threads for
 *   every command that runs a model.
 */
const ONE_INPUT = ['scan', 'feature-map', 'intervene', 'attention', 'implicit-bias', 'super-weights', 'compare', 'sink-rate'];
const RUNS_ON_TOKENS = ['scan', 'scan-many', 'feature-map', 'intervene', 'attention', 'implicit-bias', 'super-weights', 'compare', 'sink-rate'];
const WITH_IMAGE = ['scan', 'feature-map', 'attention', 'implicit-bias', 'super-weights', 'sink-rate'];
const EVERY = ['inspect', ...RUNS_ON_TOKENS, 'fix-reg-mean'];
const SHARED: Record<string, readonly string[]> = {
  '--prompt': RUNS_ON_TOKENS,
  '--prompt-file': RUNS_ON_TOKENS,
  '--ids': RUNS_ON_TOKENS,
  '--image': WITH_IMAGE,
  '--replace-invalid-utf8': RUNS_ON_TOKENS,
  '--variant': ['inspect', ...RUNS_ON_TOKENS],
  '--decoder-ids': ['scan'],
  '--feed': ONE_INPUT,
  '--json': EVERY,
  '--out': EVERY,
  '--csv': EVERY.filter((c) => c !== 'inspect'),
  '--top': ['scan', 'compare'],
  '--abs-threshold': RUNS_ON_TOKENS.filter((c) => c !== 'sink-rate'),
  '--ratio-threshold': RUNS_ON_TOKENS.filter((c) => c !== 'sink-rate'),
  '--max-tokens': RUNS_ON_TOKENS,
  '--truncate': RUNS_ON_TOKENS,
  '--threads': [...RUNS_ON_TOKENS, 'fix-reg-mean'],
  '--whole-graph': RUNS_ON_TOKENS,
  '--count': ['scan-many', 'intervene', 'compare', 'fix-reg-mean'],
  '--seq-len': ['scan-many', 'intervene', 'compare'],
  '--memory-limit-mb': RUNS_ON_TOKENS,
};

/** Every documented form ("scan", "scan --prompt"), with where it is documented. */
function documentedForms(): Map<string, Set<string>> {
  const forms = new Map<string, Set<string>>();
  const add = (cmd: string, option: string | undefined, where: string) => {
    const key = option ? `${cmd} ${option}` : cmd;
    if (!forms.has(key)) forms.set(key, new Set());
    forms.get(key)!.add(where);
  };
  for (const c of COMMANDS) add(c, undefined, '--help Usage');
  // --help: each usage line's own options, then the shared sections as SHARED reads them.
  for (const l of helpSection('Usage')) {
    const m = /^\s+massive-activations (\S+)(.*)$/.exec(l);
    if (m) for (const o of optionsIn(m[2])) add(m[1], o, '--help Usage');
  }
  for (const o of HELP_SHARED) for (const c of SHARED[o] ?? []) add(c, o, `--help shared option ${o}`);
  const section = readmeSection('## The command line');
  // The README's usage block: a line per command, continued by indented lines.
  const block = /```text\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  let current: string | undefined;
  for (const l of block.split('\n')) {
    const m = /^massive-activations (\S+)(.*)$/.exec(l);
    if (m) { current = m[1]; add(current, undefined, 'README usage block'); }
    if (current) for (const o of optionsIn(m ? m[2] : l)) add(current, o, 'README usage block');
  }
  // The experiments table: the command column (escaped pipes stay inside a cell).
  const table = readmeSection("### The paper's experiments, on any model");
  for (const row of table.split('\n').filter((l) => l.startsWith('| `'))) {
    const cell = row.split(/(?<!\\)\|/)[1];
    const cmd = /`([a-z-]+)/.exec(cell)![1];
    add(cmd, undefined, 'README experiments table');
    for (const o of optionsIn(cell)) add(cmd, o, 'README experiments table');
  }
  // "Every command takes `--json` …; every command but `inspect` … `--csv`. … `scan` also … `--image FILE`".
  const at = section.indexOf('Every command takes');
  assert.ok(at >= 0, 'README.md\'s command-line section has no "Every command takes …" sentence');
  const paragraph = section.slice(at).split('\n\n')[0].replace(/\s+/g, ' ');
  for (const sentence of paragraph.split(/(?<=\.)\s+(?=[`A-Z])/)) {
    for (const clause of sentence.split(';').map((c) => c.trim())) {
      const but = /^every command but ((?:`[a-z-]+`(?:,? and |, )?)+)/i.exec(clause);
      const except = but ? [...but[1].matchAll(/`([a-z-]+)`/g)].map((x) => x[1]) : [];
      const named = /^`([a-z-]+)`/.exec(clause);
      const who = but ? COMMANDS.filter((c) => !except.includes(c)) : /^every command/i.test(clause) ? COMMANDS : named ? [named[1]] : [];
      for (const o of optionsIn(clause)) for (const c of who) add(c, o, 'README "Every command takes …"');
    }
  }
  return forms;
}

// ---------------------------------------------------------------------------------------------
// The models and input files, and how a form is run.

const root = tempDir('contract');
const at = (...p: string[]) => path.join(root, ...p);
/** The planted GPT-2 with its tokenizer.json. */
const G = at('gpt2-planted', 'model.onnx');
/** The same model in a folder (and a parent) with no tokenizer.json. */
const N = at('no-tokenizer', 'model.onnx');
/** A ViT with registers (no tokenizer). */
const V = at('vit-registers-planted', 'model.onnx');
/** A folder of variants: model.onnx and model_fp16.onnx (+ tokenizer). */
const VARIANTS = at('llama-variants');
/** A checkpoint folder (six LLaMA steps); the last one as a second model to compare with. */
const CHECKPOINTS = at('checkpoints');
const CK6 = at('checkpoints', 'step-6000', 'model.onnx');
/** An Optimum seq2seq folder (T5 style): scan --decoder-ids. */
const T5 = at('t5-planted');
/** The GPT-2 with a tokenizer giving two words each other's ids: its tokens differ from G's. */
const OTHER_TOKENIZER = at('other-tokenizer', 'model.onnx');
const IN = (name: string) => at('inputs', name);
const IMAGES = at('inputs', 'images');
/** "Winter is cold." is 5 tokens with <s>; the default prompt is 9. */
const WINTER = 'Winter is cold.';
const FIVE_IDS = '1,10,11,12,3';
const HUB_COMMIT = 'c'.repeat(40);
/** The test Hub (a process of its own: these runs are synchronous) and a cache of this file's own. */
const HUB_ENV: Record<string, string> = {};
let hubProcess: ChildProcess | undefined;

before(() => {
  assert.ok(existsSync(CLI), `${CLI} is missing: run "npm run build" first`);
  const gpt2 = buildGpt2(root);
  mkdirSync(path.dirname(N));
  copyFileSync(gpt2.file, N);
  buildVit(root);
  buildVariantFolder(root);
  buildCheckpoints(root);
  buildSeq2Seq(root);
  mkdirSync(path.dirname(OTHER_TOKENIZER));
  copyFileSync(gpt2.file, OTHER_TOKENIZER);
  const tj = tokenizerJson() as { model: { vocab: Record<string, number> } };
  [tj.model.vocab.summer, tj.model.vocab.is] = [tj.model.vocab.is, tj.model.vocab.summer];
  writeFileSync(path.join(path.dirname(OTHER_TOKENIZER), 'tokenizer.json'), JSON.stringify(tj));
  mkdirSync(IMAGES, { recursive: true });
  png(path.join(IMAGES, 'a.png'), 32, 120);
  png(path.join(IMAGES, 'b.png'), 32, 200);
  writeFileSync(IN('winter.txt'), WINTER);
  // Bytes 0xff are not UTF-8: "<s> summer is warm . <unk> winter" (7 tokens) once replaced.
  writeFileSync(IN('bad.txt'), Buffer.concat([Buffer.from('summer is warm. '), Buffer.from([0xff]), Buffer.from(' winter')]));
  writeFileSync(IN('prompts.txt'), 'summer is warm.\nwinter is cold.\n');
  writeFileSync(IN('corpus.txt'), 'Summer is warm. Winter is cold. The river ran past the old house. '.repeat(10));
  writeFileSync(IN('feed.json'), JSON.stringify([[1, 10, 11, 12, 3]]));
  writeFileSync(at('list.txt'), 'checkpoints/step-1000/model.onnx\ncheckpoints/step-6000/model.onnx\n');
  mkdirSync(at('out'));
});

before(async () => {
  const repos = [{ id: 'test/gpt2', dir: path.dirname(G), commit: HUB_COMMIT }, { id: 'test/variants', dir: VARIANTS, commit: HUB_COMMIT }];
  hubProcess = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'test', 'models', 'hubServe.ts'), JSON.stringify(repos)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const endpoint = await new Promise<string>((ok) => { let out = ''; hubProcess!.stdout!.on('data', (d) => { out += d; if (out.includes('\n')) ok(out.trim()); }); });
  Object.assign(HUB_ENV, { HF_ENDPOINT: endpoint, HF_HUB_CACHE: at('hf-cache'), HF_HUB_OFFLINE: '', HF_TOKEN: '' });
});
after(() => { hubProcess?.kill(); });

interface Run { code: number | null; out: string; err: string; line: string }
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type J = any;

function cli(args: string[]): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...HUB_ENV } });
  const line = `massive-activations ${args.map((a) => (a.startsWith(root) ? path.relative(root, a) || '.' : a)).join(' ')}`;
  return { code: r.status, out: r.stdout, err: r.stderr, line };
}

/** A run that must succeed: its --json document. */
function ok(args: string[]): J {
  const r = cli([...args, '--json']);
  assert.equal(r.code, 0, `${r.line} failed: ${r.err.trim()}`);
  // A documented form whose option the command never reads would be a promise the CLI does not keep.
  assert.doesNotMatch(r.err, /is not used by/, `${r.line}: ${r.err.trim()}`);
  return JSON.parse(r.out);
}

/** A run that must be refused in one sentence matching `message`; returns the sentence. */
function refused(args: string[], message: RegExp): string {
  const r = cli(args);
  assert.notEqual(r.code, 0, `${r.line} should be refused (${message}) but exited 0`);
  assert.match(r.err, /^massive-activations: [^\n]+\n$/, `${r.line}: one sentence on stderr`);
  assert.match(r.err, message, `${r.line}`);
  const sentence = r.err.replace(/^massive-activations: /, '').trim();
  return `refused: "${sentence.length > 200 ? `${sentence.slice(0, 200)}…` : sentence}"`;
}

const cache = new Map<string, J>();
/** The default run's document, run once per argument list. */
function baseline(args: string[]): J {
  const key = args.join('\0');
  if (!cache.has(key)) cache.set(key, ok(args));
  return cache.get(key);
}

function close(a: number[], b: number[], rel = 1e-3): boolean {
  return a.length === b.length && a.every((x, i) => Math.abs(x - b[i]) <= rel * Math.max(1, Math.abs(x), Math.abs(b[i])));
}
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
let outputs = 0;
const outFile = (ext: string) => at('out', `${++outputs}.${ext}`);

// ---------------------------------------------------------------------------------------------
// Per command: a working run on a model, what it computes, and how it reports its input.

interface Profile {
  /** A working run of the command on `model` (default: the tokenizer GPT-2, or the ViT). */
  args: (model?: string) => string[];
  /** The numbers a run computes, to tell two runs apart (or not). */
  numbers: (j: J) => number[];
  /** How many massive activations (or entries built on them) the result names. */
  massive?: (j: J) => number;
  /** How the result reports its input's length, for a 5-token input, an image and the 7-token invalid-UTF-8 text. */
  tokens?: (j: J) => string;
  /** What `tokens` says for them (default: "5 tokens", "21 tokens", "7 tokens"). */
  five?: string; image?: string; seven?: string;
}

const PROFILES: Record<string, Profile> = {
  inspect: { args: (m = G) => ['inspect', m], numbers: (j) => [j.blocks, j.hiddenSize] },
  scan: {
    args: (m = G) => ['scan', m],
    numbers: (j) => j.layers.flatMap((l: J) => [l.median, l.top[0].value]),
    massive: (j) => sum(j.layers.map((l: J) => l.massive.length)),
    tokens: (j) => `${j.tokens.length} tokens`,
  },
  'scan-many': {
    args: (m = G) => ['scan-many', m, '--count', '2', '--seq-len', '8'],
    numbers: (j) => j.layers.flatMap((l: J) => [l.median.mean, l.top[0].mean]),
    massive: (j) => j.constancy.length,
    tokens: (j) => `${j.tokensPerInput.join(', ')} tokens per input`,
    five: '5 tokens per input', seven: '7 tokens per input',
  },
  'feature-map': {
    args: (m = G) => ['feature-map', m, '--layer', '2'],
    numbers: (j) => [j.maxAbs, j.median],
    massive: (j) => j.massive.length,
    tokens: (j) => `${j.tokens.length} tokens`,
  },
  intervene: {
    args: (m = G) => ['intervene', m, '--layer', '1', '--no-perplexity'],
    numbers: (j) => [j.klMean, ...j.changed.map((c: J) => c.from)],
    massive: (j) => j.changed.length,
    tokens: (j) => `${j.klPerToken.length} tokens`,
  },
  attention: {
    args: (m = G) => ['attention', m, '--layer', '3'],
    numbers: (j) => [j.massiveTokenShare, ...j.heads.map((h: J) => h.sinkScore)],
    massive: (j) => j.massiveTokens.length,
    tokens: (j) => `${j.tokens.length} tokens`,
  },
  'implicit-bias': {
    args: (m = G) => ['implicit-bias', m, '--layer', '3'],
    numbers: (j) => [j.sinkPartCosine, j.restPartCosine, j.sinkNormShare],
    massive: (j) => j.massiveTokens.length,
    // Queries from the first token on: a ViT's CLS token (0) is not one.
    tokens: (j) => `${j.queries} queries`,
    five: '5 queries', image: '20 queries', seven: '7 queries',
  },
  'super-weights': {
    args: (m = G) => ['super-weights', m],
    numbers: (j) => j.candidates.flatMap((c: J) => [c.weight, c.contribution]),
    massive: (j) => j.candidates.length,
    // It reports no token count: the tokens the super weight's activation sits on stand for it.
    tokens: (j) => `massive tokens ${[...j.candidates[0].tokens].sort((a: number, b: number) => a - b).join(',')}`,
    five: 'massive tokens 0,4', image: 'massive tokens 1,2,3,4', seven: 'massive tokens 0,4',
  },
  'fix-reg-mean': {
    args: (m = V) => ['fix-reg-mean', m, '--count', '2'],
    numbers: (j) => [j.fixRegMean.relativeL2, j.zeroRegisters.relativeL2, ...j.registerSpread.map((r: J) => r.meanNorm)],
  },
  compare: {
    args: (m = G) => ['compare', m, CK6],
    numbers: (j) => j.layers.flatMap((l: J) => l.models.map((m: J) => m.median)),
    massive: (j) => sum(j.layers.flatMap((l: J) => l.models.map((m: J) => m.massive.length))),
    tokens: (j) => `${j.models.map((m: J) => m.tokens).join(' and ')} tokens`,
    five: '5 and 5 tokens', seven: '7 and 7 tokens',
  },
  'sink-rate': {
    args: (m = G) => ['sink-rate', m],
    numbers: (j) => j.blocks.flatMap((b: J) => b.scores),
    tokens: (j) => `${j.tokensPerInput.join(', ')} tokens`,
  },
};

const profile = (cmd: string) => PROFILES[cmd] ?? assert.fail(`no profile for ${cmd}`);
const tokensOf = (cmd: string, j: J) => (profile(cmd).tokens ?? assert.fail(`${cmd} reports no input length`))(j);

// ---------------------------------------------------------------------------------------------
// Runners shared by many commands: each returns what it saw, for the closing list.

const runner = {
  json: (cmd: string) => (): string => {
    const j = ok(profile(cmd).args());
    const keys = Object.keys(j);
    assert.ok(keys.length > 2 && profile(cmd).numbers(j).length > 0, `${cmd} --json: a document with its numbers`);
    return `exit 0, one JSON document {${keys.slice(0, 4).join(', ')}, …}`;
  },
  out: (cmd: string) => (): string => {
    const file = outFile('json');
    const r = cli([...profile(cmd).args(), '--json', '--out', file]);
    assert.equal(r.code, 0, `${r.line}: ${r.err}`);
    assert.equal(readFileSync(file, 'utf8'), r.out, `${r.line}: --out holds the printed document`);
    return `exit 0, the file holds the printed JSON (${r.out.length.toLocaleString('en-US')} bytes)`;
  },
  csv: (cmd: string) => (): string => {
    const file = outFile('csv');
    const r = cli([...profile(cmd).args(), '--csv', file]);
    assert.equal(r.code, 0, `${r.line}: ${r.err}`);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    assert.match(lines[0], /^[a-z][a-z0-9_]*(,[a-z][a-z0-9_]*)+$/, `${r.line}: a CSV header`);
    assert.ok(lines.length > 1, `${r.line}: rows under the header`);
    const head = lines[0].split(',');
    return `exit 0, CSV "${head.slice(0, 3).join(',')},…" (${head.length} columns) + ${lines.length - 1} rows`;
  },
  /** Settings that must not change the numbers (threads, one whole graph). */
  same: (cmd: string, ...extra: string[]) => (): string => {
    const p = profile(cmd);
    const base = p.numbers(baseline(p.args()));
    const got = p.numbers(ok([...p.args(), ...extra]));
    assert.ok(close(got, base), `${cmd} ${extra.join(' ')}: the same numbers as the default run (${got.slice(0, 4)} vs ${base.slice(0, 4)})`);
    return `exit 0, the same ${got.length} numbers as the default run`;
  },
  maxTokens: (cmd: string) => (): string => refused([...profile(cmd).args(), '--max-tokens', '4'], /the limit is 4 tokens .*--max-tokens.* or run its first 4 tokens \(--truncate\)/),
  /** What --max-tokens 4 refuses runs with --truncate, on the first 4 tokens; scan says how many it kept. */
  truncate: (cmd: string) => (): string => {
    const j = ok([...profile(cmd).args(), '--max-tokens', '4', '--truncate']);
    const said = /Only the first 4 of the input's [\d,]+ tokens were run/.exec(JSON.stringify(j))?.[0];
    if (cmd === 'scan') {
      assert.ok(said, 'scan says how many tokens it kept');
      assert.equal((j.tokens as unknown[]).length, 4);
    }
    return `exit 0 on the first 4 tokens, where --max-tokens 4 alone is refused${said ? `: "${said}"` : ''}`;
  },
  memoryLimit: (cmd: string) => (): string => refused([...profile(cmd).args(), '--memory-limit-mb', '1'], /over the limit of 1 MB set with --memory-limit-mb/),
  /** A threshold above every planted value: nothing is massive (or the experiment says it has nothing to measure). */
  threshold: (cmd: string, option: string, value: string) => (): string => {
    const p = profile(cmd);
    const before = p.massive!(baseline(p.args()));
    assert.ok(before > 0, `${cmd}: the default run finds massive activations`);
    const r = cli([...p.args(), option, value, '--json']);
    if (r.code !== 0) {
      assert.match(r.err, /No massive activations/, `${r.line}: ${r.err}`);
      return `${refused([...p.args(), option, value], /No massive activations/)} (default: ${before})`;
    }
    const after = p.massive!(JSON.parse(r.out));
    assert.equal(after, 0, `${r.line}: nothing is massive above ${value}`);
    return `exit 0, ${before} massive → 0 with ${option} ${value}`;
  },
  variant: (cmd: string) => (): string => {
    const p = profile(cmd);
    const plain = p.numbers(baseline(p.args(VARIANTS)));
    const fp16 = p.numbers(ok([...p.args(VARIANTS), '--variant', 'fp16']));
    assert.ok(fp16.length > 0 && !close(fp16, plain, 1e-7), `${cmd} --variant fp16 runs model_fp16.onnx: its numbers differ from model.onnx's`);
    const i = fp16.findIndex((x, k) => x !== plain[k]);
    return `exit 0 on the folder, model_fp16.onnx's numbers (${fp16[i].toPrecision(9)} vs model.onnx's ${plain[i].toPrecision(9)})`;
  },
  prompt: (cmd: string) => (): string => {
    const p = profile(cmd);
    const got = tokensOf(cmd, ok([...p.args(), '--prompt', WINTER]));
    assert.equal(got, p.five ?? '5 tokens', `${cmd} --prompt "${WINTER}": 5 tokens`);
    const no = refused([...p.args(N), '--prompt', WINTER], /--ids/);
    return `exit 0, input: ${got}; no tokenizer: ${no}`;
  },
  promptFile: (cmd: string) => (): string => {
    const p = profile(cmd);
    const got = tokensOf(cmd, ok([...p.args(), '--prompt-file', IN('winter.txt')]));
    assert.equal(got, p.five ?? '5 tokens', `${cmd} --prompt-file: the file's 5 tokens`);
    return `exit 0, input (the file's text): ${got}`;
  },
  ids: (cmd: string) => (): string => {
    const p = profile(cmd);
    const got = tokensOf(cmd, ok([...p.args(N), '--ids', FIVE_IDS]));
    assert.equal(got, p.five ?? '5 tokens', `${cmd} --ids on the model without a tokenizer: 5 tokens`);
    return `exit 0 without a tokenizer, input: ${got}`;
  },
  image: (cmd: string) => (): string => {
    const p = profile(cmd);
    const got = tokensOf(cmd, ok([...p.args(V), '--image', path.join(IMAGES, 'a.png')]));
    assert.equal(got, p.image ?? '21 tokens', `${cmd} --image on the ViT: 1 CLS + 4 registers + 16 patches`);
    return `exit 0 on the ViT, input: ${got}`;
  },
  feed: (cmd: string) => (): string => {
    const p = profile(cmd);
    const got = tokensOf(cmd, ok([...p.args(N), '--feed', `input_ids=${IN('feed.json')}`]));
    assert.equal(got, p.five ?? '5 tokens', `${cmd} --feed input_ids=feed.json (5 ids) on the model without a tokenizer`);
    return `exit 0 without a tokenizer, input (the fed ids): ${got}`;
  },
  utf8: (cmd: string) => (): string => {
    const p = profile(cmd);
    refused([...p.args(), '--prompt-file', IN('bad.txt')], /--replace-invalid-utf8/);
    const got = tokensOf(cmd, ok([...p.args(), '--prompt-file', IN('bad.txt'), '--replace-invalid-utf8']));
    assert.equal(got, p.seven ?? '7 tokens', `${cmd}: the text with U+FFFD in place of 0xff`);
    return `exit 0, input (with one <unk>): ${got}; without it refused naming --replace-invalid-utf8`;
  },
};

/** The options every command that runs a model on tokens shares, as SHARED documents them. */
function runsOnTokens(cmd: string): Record<string, () => string> {
  const thresholds: Record<string, () => string> = SHARED['--abs-threshold'].includes(cmd) ? {
    '--abs-threshold': runner.threshold(cmd, '--abs-threshold', '5000'),
    '--ratio-threshold': runner.threshold(cmd, '--ratio-threshold', '10000000'),
  } : {};
  return {
    '--prompt': runner.prompt(cmd), '--prompt-file': runner.promptFile(cmd), '--ids': runner.ids(cmd),
    '--replace-invalid-utf8': runner.utf8(cmd), '--variant': runner.variant(cmd),
    '--json': runner.json(cmd), '--out': runner.out(cmd), '--csv': runner.csv(cmd),
    ...thresholds,
    '--max-tokens': runner.maxTokens(cmd), '--truncate': runner.truncate(cmd), '--threads': runner.same(cmd, '--threads', '1'),
    '--whole-graph': runner.same(cmd, '--whole-graph'), '--memory-limit-mb': runner.memoryLimit(cmd),
  };
}

const needsLayer = (cmd: string) => (): string => refused([cmd, G], /Give the block with --layer L/);
const layer = (cmd: string, n: number) => (): string => {
  const j = ok([cmd, G, '--layer', String(n)]);
  assert.equal(j.layer, n, `${cmd} --layer ${n} reports block ${n}`);
  return `exit 0, reports block ${j.layer}`;
};

let reports = 0;
/** report MODEL with an input option: its report.md says the input it ran. */
function reportHolds(extra: string[], says: RegExp, model = G): string {
  const dir = at(`report-${++reports}`);
  const r = cli(['report', model, ...extra, '--out', dir]);
  assert.equal(r.code, 0, `${r.line}: ${r.err}`);
  const md = readFileSync(path.join(dir, 'report.md'), 'utf8');
  assert.match(md, says);
  return `exit 0, report.md says "${says.exec(md)![0].slice(0, 60)}"`;
}

// ---------------------------------------------------------------------------------------------
// The table: every documented form and its runner.

const RUNNERS: Record<string, Record<string, () => string>> = {
  inspect: {
    '': () => {
      const r = cli(['inspect', G]);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /^blocks\s+6\b/m);
      return 'exit 0, "blocks 6 (located by scope-names)"';
    },
    '--json': () => {
      const j = ok(['inspect', G]);
      assert.deepEqual([j.family, j.blocks, j.hiddenSize], ['decoder', 6, 64]);
      return 'exit 0, { family: "decoder", blocks: 6, hiddenSize: 64 }';
    },
    '--out': runner.out('inspect'),
    '--variant': () => {
      assert.equal(ok(['inspect', VARIANTS]).dtype, 'float32');
      assert.equal(ok(['inspect', VARIANTS, '--variant', 'fp16']).dtype, 'float16');
      return 'exit 0, dtype float16 (the folder\'s default: float32)';
    },
  },
  report: {
    '': () => refused(['report', G], /^massive-activations: Give the folder to write the report into: massive-activations report MODEL\|FOLDER --out DIR/),
    '--out': () => {
      const dir = at(`report-${++reports}`);
      const r = cli(['report', G, '--out', dir]);
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out.trim(), path.join(dir, 'report.md'));
      assert.ok(existsSync(path.join(dir, 'figures', 'overview.svg')) && existsSync(path.join(dir, 'results', 'scan.json')));
      const again = refused(['report', G, '--out', dir], /is a folder that is not empty: give a new or empty folder/);
      return `exit 0, prints ${path.basename(r.out.trim())} (figures/, results/); the same folder again: ${again}`;
    },
    '--json': () => {
      const dir = at(`report-${++reports}`);
      const j = ok(['report', G, '--out', dir]);
      assert.equal(j.folder, dir);
      assert.ok(j.files.includes(path.join(dir, 'report.md')) && j.files.every((f: string) => existsSync(f)), 'every file listed exists');
      return `exit 0, { folder, files: [${j.files.length} files] }`;
    },
    '--prompt': () => reportHolds(['--prompt', WINTER], /^> Winter is cold\.$/m),
    '--prompt-file': () => reportHolds(['--prompt-file', IN('winter.txt')], /^> Winter is cold\.$/m),
    '--ids': () => reportHolds(['--ids', FIVE_IDS], new RegExp(`^Token ids: \`${FIVE_IDS}\`$`, 'm'), N),
    '--image': () => reportHolds(['--image', path.join(IMAGES, 'a.png')], /^Image: `.*a\.png`$/m, V),
  },
  download: {
    '': () => {
      const r = cli(['download', 'hf://test/gpt2']);
      assert.equal(r.code, 0, r.err);
      const folder = r.out.trim();
      assert.equal(folder, path.join(HUB_ENV.HF_HUB_CACHE, 'models--test--gpt2', 'snapshots', HUB_COMMIT));
      assert.ok(existsSync(path.join(folder, 'model.onnx')) && existsSync(path.join(folder, 'tokenizer.json')));
      return 'exit 0, prints the cached snapshot\'s folder (model.onnx, tokenizer.json)';
    },
    '--variant': () => {
      const folder = cli(['download', 'hf://test/variants', '--variant', 'fp16']).out.trim();
      assert.ok(existsSync(path.join(folder, 'model_fp16.onnx')));
      assert.ok(!existsSync(path.join(folder, 'model.onnx')), 'only the chosen variant');
      return 'exit 0, model_fp16.onnx fetched, model.onnx not';
    },
    '--json': () => {
      const j = ok(['download', 'hf://test/variants']);
      assert.deepEqual([j.variant, j.variants, j.commit], ['', ['', 'fp16'], HUB_COMMIT]);
      return 'exit 0, { variant: "", variants: ["", "fp16"], commit, folder, files }';
    },
    '--out': () => {
      const f = outFile('json');
      const r = cli(['download', 'hf://test/gpt2', '--json', '--out', f]);
      assert.equal(r.code, 0, r.err);
      assert.equal(readFileSync(f, 'utf8'), r.out);
      return 'exit 0, the file holds the printed JSON';
    },
  },
  scan: {
    ...runsOnTokens('scan'),
    '': () => {
      const r = cli(['scan', G]);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /9 tokens: "<s>" "summer"/);
      const no = refused(['scan', N], /--ids/);
      return `exit 0, the default prompt's 9 tokens and the block table; no tokenizer: ${no}`;
    },
    '--image': runner.image('scan'),
    '--feed': runner.feed('scan'),
    '--top': () => {
      const j = ok(['scan', G, '--top', '5']);
      assert.ok(j.layers.every((l: J) => l.top.length === 5), 'scan --top 5: 5 top entries per block');
      return `exit 0, 5 top entries in each of ${j.layers.length} blocks`;
    },
    '--no-attention': () => {
      assert.equal(baseline(profile('scan').args()).attention.length, 6);
      const j = ok(['scan', G, '--no-attention']);
      assert.ok(j.attention.every((a: J) => a.source === 'unavailable' && a.heads === 0 && a.massiveTokenShare === null), 'scan --no-attention: no attention read');
      return 'exit 0, attention "unavailable" in every block (default: softmax, 4 heads each)';
    },
    '--decoder-ids': () => {
      const decoderIds = (j: J) => j.stacks.find((s: J) => s.name === 'decoder').tokens.map((t: J) => t.id).join(',');
      assert.equal(decoderIds(ok(['scan', T5])), '1', 'the decoder starts from config.json\'s start token');
      const got = decoderIds(ok(['scan', T5, '--decoder-ids', '0']));
      assert.equal(got, '0');
      return `exit 0 on the seq2seq folder, the decoder ran ids [${got}] (default [1])`;
    },
  },
  'scan-many': {
    ...runsOnTokens('scan-many'),
    '': () => {
      const j = ok(['scan-many', G]);
      assert.equal(j.inputKind, 'random-ids');
      assert.equal(j.tokensPerInput.join(','), Array(10).fill(64).join(','));
      return 'exit 0, 10 random-id inputs of 64 tokens';
    },
    '--text-file': () => {
      const j = ok(['scan-many', G, '--text-file', IN('corpus.txt'), '--seq-len', '8', '--count', '2']);
      assert.deepEqual([j.inputKind, j.tokensPerInput], ['text', [8, 8]]);
      return 'exit 0, 2 inputs cut from the text (inputKind "text")';
    },
    '--seq-len': () => {
      const j = ok(['scan-many', G, '--count', '2', '--seq-len', '12']);
      assert.deepEqual(j.tokensPerInput, [12, 12]);
      return 'exit 0, inputs of 12 tokens (default 64)';
    },
    '--count': () => {
      const j = ok(['scan-many', G, '--count', '3', '--seq-len', '8']);
      assert.equal(j.inputs, 3);
      return 'exit 0, 3 inputs (default 10)';
    },
    '--prompts-file': () => {
      const j = ok(['scan-many', G, '--prompts-file', IN('prompts.txt')]);
      assert.deepEqual([j.inputs, j.inputKind], [2, 'prompts']);
      return 'exit 0, 2 inputs, one per line (inputKind "prompts")';
    },
    '--ids': () => {
      const j = ok(['scan-many', N, '--ids', '1,10,11;1,12,3,13']);
      assert.deepEqual([j.inputKind, j.tokensPerInput], ['ids', [3, 4]]);
      return 'exit 0 without a tokenizer, 2 id sequences of 3 and 4 tokens';
    },
    '--images': () => {
      const j = ok(['scan-many', V, '--images', `${path.join(IMAGES, 'a.png')},${path.join(IMAGES, 'b.png')}`]);
      assert.deepEqual([j.inputs, j.inputKind], [2, 'images']);
      return 'exit 0 on the ViT, 2 inputs (inputKind "images")';
    },
    '--image-dir': () => {
      const j = ok(['scan-many', V, '--image-dir', IMAGES]);
      assert.deepEqual([j.inputs, j.inputKind], [2, 'images']);
      return 'exit 0 on the ViT, the folder\'s 2 images';
    },
    '--first-id': () => {
      const kinds = (j: J) => j.constancy.map((c: J) => `${c.kind}:${c.channel}`).sort().join(',');
      assert.equal(kinds(baseline(profile('scan-many').args())), 'first:42,first:7', 'from <s> (id 1) the planted channels are massive');
      const j = ok([...profile('scan-many').args(), '--first-id', '100']);
      assert.equal(kinds(j), '', 'sequences starting with id 100 (not <s>) carry no massive activation');
      return 'exit 0, sequences from id 100: no massive activation (from the default id 1: first:7, first:42)';
    },
  },
  'feature-map': {
    ...runsOnTokens('feature-map'),
    '': needsLayer('feature-map'),
    '--layer': layer('feature-map', 3),
    '--image': runner.image('feature-map'),
    '--feed': runner.feed('feature-map'),
    '--max-columns': () => {
      const j = ok(['feature-map', G, '--layer', '2', '--max-columns', '8']);
      assert.ok(j.columns.length <= 8 + j.massiveChannels.length && j.columns.length < 64, `--max-columns 8: ${j.columns.length} columns`);
      return `exit 0, ${j.columns.length} columns (8 bins + the massive channels; default: all 64)`;
    },
  },
  intervene: {
    ...runsOnTokens('intervene'),
    '': needsLayer('intervene'),
    '--layer': layer('intervene', 2),
    '--feed': runner.feed('intervene'),
    '--mode': () => {
      const j = ok(['intervene', G, '--layer', '1', '--mode', 'mean', '--no-perplexity']);
      assert.equal(j.mode, 'mean');
      assert.ok(j.means.length > 0 && j.changed.length > 0);
      return `exit 0, mode "mean": ${j.changed.length} entries set to their means`;
    },
    '--values': () => {
      const j = ok(['intervene', G, '--layer', '1', '--mode', 'values', '--values', '0:7=5,4:42=-3', '--no-perplexity']);
      assert.deepEqual(j.changed.map((c: J) => [c.token, c.channel, c.to]), [[0, 7, 5], [4, 42, -3]]);
      return 'exit 0, exactly token 0 channel 7 → 5 and token 4 channel 42 → -3';
    },
    '--channels': () => {
      const j = ok(['intervene', G, '--layer', '1', '--channels', '7', '--no-perplexity']);
      assert.ok(j.changed.length > 0 && j.changed.every((c: J) => c.channel === 7));
      return `exit 0, ${j.changed.length} entries changed, all in channel 7 (default: 7 and 42)`;
    },
    '--mean-text-file': () => {
      const any7 = (j: J) => j.means.find((m: J) => m.kind === 'any' && m.channel === 7).mean;
      const sample = any7(ok(['intervene', G, '--layer', '1', '--mode', 'mean', '--no-perplexity']));
      const text = any7(ok(['intervene', G, '--layer', '1', '--mode', 'mean', '--no-perplexity', '--mean-text-file', IN('corpus.txt')]));
      assert.notEqual(text, sample, 'the means come from the given text, not the built-in sample');
      return `exit 0, channel 7's mean over the text ${text.toFixed(1)} (built-in sample: ${sample.toFixed(1)})`;
    },
    '--eval-text-file': () => {
      const j = ok(['intervene', G, '--layer', '1', '--eval-text-file', IN('corpus.txt')]);
      assert.equal(j.perplexity.source, 'text');
      return `exit 0, perplexity on the text (source "text"): ${j.perplexity.before.toFixed(0)} → ${j.perplexity.after.toFixed(0)}`;
    },
    '--no-perplexity': () => {
      const j = ok(['intervene', G, '--layer', '1', '--no-perplexity']);
      assert.equal(j.perplexity, null);
      return 'exit 0, perplexity null';
    },
    '--count': () => {
      // The built-in sample gives 2 sequences of 64 tokens: --count 1 takes one of them.
      const j = ok(['intervene', G, '--layer', '1', '--mode', 'mean', '--count', '1', '--no-perplexity']);
      const first = j.means.find((m: J) => m.kind === 'first' && m.channel === 7);
      assert.equal(first.samples, 1, 'the mean over 1 sequence (one first token)');
      return 'exit 0, the means over 1 sequence (first-token samples: 1; default 2)';
    },
    '--seq-len': () => {
      const j = ok(['intervene', G, '--layer', '1', '--seq-len', '8']);
      assert.equal(j.perplexity.tokens, j.perplexity.sequences * 7, 'perplexity over sequences of 8 tokens (7 predictions each)');
      return `exit 0, perplexity over ${j.perplexity.sequences} sequences of 8 tokens`;
    },
  },
  attention: {
    ...runsOnTokens('attention'),
    '': needsLayer('attention'),
    '--layer': layer('attention', 2),
    '--image': runner.image('attention'),
    '--feed': runner.feed('attention'),
    '--per-head': () => {
      assert.equal(baseline(profile('attention').args()).perHead, undefined);
      const j = ok([...profile('attention').args(), '--per-head']);
      assert.equal(j.perHead.length, 4, 'one matrix per head');
      return 'exit 0, perHead: 4 matrices (absent by default)';
    },
    '--matrix-tokens': () => {
      const full = ok(profile('attention').args());
      const j = ok([...profile('attention').args(), '--matrix-tokens', '4']);
      assert.ok(j.bins.length < full.bins.length, `binned: ${j.bins.length} of ${full.bins.length}`);
      assert.equal(j.probabilities.length, j.bins.length, 'one row per bin');
      // The massive tokens keep a row and a column each, however few the bins.
      for (const t of j.massiveTokens) assert.ok(j.bins.some((b: J) => b.from === t && b.to === t), `token ${t} kept`);
      return `exit 0, a ${j.bins.length}×${j.bins.length} matrix, the massive tokens kept (${full.bins.length}×${full.bins.length} by default)`;
    },
  },
  'implicit-bias': {
    ...runsOnTokens('implicit-bias'),
    '': needsLayer('implicit-bias'),
    '--layer': layer('implicit-bias', 2),
    '--image': runner.image('implicit-bias'),
    '--feed': runner.feed('implicit-bias'),
  },
  'super-weights': {
    ...runsOnTokens('super-weights'),
    '': () => {
      const r = cli(['super-weights', G]);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /^block 1 down projection/m);
      return 'exit 0, "block 1 down projection (transformer.h.1.mlp.c_proj.weight)"';
    },
    '--image': runner.image('super-weights'),
    '--feed': runner.feed('super-weights'),
  },
  'fix-reg-mean': {
    '': () => {
      const j = ok(['fix-reg-mean', V]);
      assert.deepEqual([j.registers, j.inputKind], [4, 'synthetic']);
      return `exit 0 on the ViT, 4 registers, ${j.images} synthetic inputs`;
    },
    '--images': () => {
      const j = ok(['fix-reg-mean', V, '--images', `${path.join(IMAGES, 'a.png')},${path.join(IMAGES, 'b.png')}`]);
      assert.deepEqual([j.images, j.inputKind], [2, 'images']);
      return 'exit 0, averaged over the 2 images';
    },
    '--image-dir': () => {
      const j = ok(['fix-reg-mean', V, '--image-dir', IMAGES]);
      assert.deepEqual([j.images, j.inputKind], [2, 'images']);
      return 'exit 0, averaged over the folder\'s 2 images';
    },
    '--count': () => {
      const j = ok(['fix-reg-mean', V, '--count', '3']);
      assert.equal(j.images, 3);
      return 'exit 0, 3 synthetic inputs (default 4)';
    },
    '--threads': runner.same('fix-reg-mean', '--threads', '1'),
    '--json': runner.json('fix-reg-mean'),
    '--out': runner.out('fix-reg-mean'),
    '--csv': runner.csv('fix-reg-mean'),
  },
  compare: {
    ...runsOnTokens('compare'),
    '': () => {
      const j = ok(['compare', CHECKPOINTS]);
      assert.equal(j.mode, 'series');
      assert.equal(j.models.length, 6);
      return 'exit 0 on the checkpoint folder, a series of 6 steps';
    },
    '--feed': runner.feed('compare'),
    '--list': () => {
      const j = ok(['compare', '--list', at('list.txt')]);
      assert.deepEqual([j.mode, j.models.map((m: J) => m.name)], ['series', ['step-1000', 'step-6000']]);
      return 'exit 0, the listed series step-1000, step-6000';
    },
    '--prompt2': () => {
      const j = ok(['compare', G, '--prompt', PAPER_PROMPT, '--prompt2', WINTER]);
      assert.deepEqual([j.mode, j.models.map((m: J) => m.tokens)], ['inputs', [9, 5]]);
      return 'exit 0, mode "inputs": the two prompts (9 and 5 tokens) on one model';
    },
    '--text-file': () => {
      const j = ok([...profile('compare').args(), '--text-file', IN('corpus.txt'), '--count', '2', '--seq-len', '8']);
      assert.deepEqual([j.inputs, j.models.map((m: J) => m.tokens)], [2, [8, 8]]);
      return 'exit 0, 2 sequences of 8 tokens from the text through both models';
    },
    '--count': () => {
      const j = ok([...profile('compare').args(), '--text-file', IN('corpus.txt'), '--count', '3', '--seq-len', '8']);
      assert.equal(j.inputs, 3);
      return 'exit 0, statistics over 3 sequences';
    },
    '--seq-len': () => {
      const j = ok([...profile('compare').args(), '--text-file', IN('corpus.txt'), '--count', '2', '--seq-len', '12']);
      assert.deepEqual(j.models.map((m: J) => m.tokens), [12, 12]);
      return 'exit 0, sequences of 12 tokens';
    },
    '--align-by-text': () => {
      const no = refused(['compare', G, OTHER_TOKENIZER], /different tokens.*--align-by-text/);
      const j = ok(['compare', G, OTHER_TOKENIZER, '--align-by-text']);
      assert.equal(j.aligned, 'kind');
      return `exit 0, aligned by token kind; without it ${no.slice(0, 60)}…`;
    },
    '--top': () => {
      const j = ok([...profile('compare').args(), '--top', '5']);
      assert.ok(j.layers.every((l: J) => l.models.every((m: J) => m.top.length === 5)));
      return 'exit 0, 5 top entries per block and model';
    },
  },
  'sink-rate': {
    ...runsOnTokens('sink-rate'),
    '': () => {
      const r = cli(['sink-rate', G]);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /^sink rate \(ε = 0\.3\): 87\.5%/m);
      return 'exit 0, "sink rate (ε = 0.3): 87.5% — 21 of 24 heads …"';
    },
    '--image': runner.image('sink-rate'),
    '--feed': runner.feed('sink-rate'),
    '--prompts-file': () => {
      const j = ok(['sink-rate', G, '--prompts-file', IN('prompts.txt')]);
      assert.equal(j.inputs, 2);
      return 'exit 0, averaged over the file\'s 2 prompts';
    },
    '--epsilon': () => {
      const base = baseline(profile('sink-rate').args());
      const j = ok(['sink-rate', G, '--epsilon', '0.9']);
      assert.equal(j.epsilon, 0.9);
      assert.ok(j.sinkHeads < base.sinkHeads, 'fewer heads pass a higher ε');
      return `exit 0, ε 0.9: ${j.sinkHeads} sink heads (ε 0.3: ${base.sinkHeads})`;
    },
  },
};

/** The table flattened to form keys ("scan" for the bare command). */
const FORMS = new Map(Object.entries(RUNNERS).flatMap(([cmd, byOption]) => Object.entries(byOption)
  .map(([option, run]) => [option ? `${cmd} ${option}` : cmd, run] as const)));

// ---------------------------------------------------------------------------------------------

const results = new Map<string, string>();
after(() => {
  console.log(`\nThe command line's documented forms, run end to end (${results.size}):`);
  for (const form of FORMS.keys()) if (results.has(form)) console.log(`${form} → ${results.get(form)}`);
});

describe('the README and --help document exactly the forms this test runs', () => {
  test('--help lists the subcommands and its shared options each have a decision in SHARED', () => {
    assert.ok(COMMANDS.length >= 10, `--help's Usage names the subcommands (got ${COMMANDS.join(', ') || 'none'})`);
    const undecided = [...HELP_SHARED].filter((o) => !(o in SHARED));
    assert.deepEqual(undecided, [], `--help lists shared options with no decision in SHARED (which commands they are for): ${undecided.join(', ')}`);
    const stale = Object.keys(SHARED).filter((o) => !HELP_SHARED.has(o));
    assert.deepEqual(stale, [], `SHARED decides options --help no longer lists in Inputs/Output/Settings: ${stale.join(', ')}`);
    const unknown = Object.values(SHARED).flat().filter((c) => !COMMANDS.includes(c));
    assert.deepEqual([...new Set(unknown)], [], 'SHARED names commands --help does not list');
  });

  test('every documented form has a runner, and every runner a documented form', () => {
    const documented = documentedForms();
    const missing = [...documented.keys()].filter((f) => !FORMS.has(f)).map((f) => `${f} (${[...documented.get(f)!].join('; ')})`);
    const undocumented = [...FORMS.keys()].filter((f) => !documented.has(f));
    const says = [
      ...(missing.length ? [`documented forms with no runner in RUNNERS:\n  ${missing.join('\n  ')}`] : []),
      ...(undocumented.length ? [`runners for forms neither the README nor --help documents:\n  ${undocumented.join('\n  ')}`] : []),
    ];
    assert.deepEqual({ missing, undocumented }, { missing: [], undocumented: [] }, says.join('\n'));
  });

  test('every option the parser accepts is documented, and every documented option is accepted', () => {
    const documentation = `${readmeSection('## The command line')}\n${HELP}`;
    const accepted = [...VALUED, ...BOOLEAN].map((o) => `--${o}`);
    const nowhere = accepted.filter((o) => !new RegExp(`${o}(?![a-z0-9-])`).test(documentation));
    assert.deepEqual(nowhere, [], `options src/cli/args.ts accepts that neither the README's command-line section nor --help mentions: ${nowhere.join(', ')}`);
    const documentedOptions = new Set([...documentedForms().keys()].map((f) => f.split(' ')[1]).filter(Boolean));
    const refused = [...documentedOptions].filter((o) => !accepted.includes(o));
    assert.deepEqual(refused, [], `documented options the parser refuses: ${refused.join(', ')}`);
  });
});

describe('an option a command does not use is said, never silently dropped', () => {
  test('scan-many --feed is refused: one input\'s tensors for a run of many', () => {
    refused(['scan-many', G, '--count', '2', '--feed', `input_ids=${IN('feed.json')}`], /^massive-activations: --feed gives the tensors of one input; scan-many runs many inputs\. Scan that input with scan --feed/);
  });
  for (const [args, option] of [
    [['fix-reg-mean', V, '--count', '2', '--top', '7'], 'top'],
    [['inspect', G, '--layer', '2'], 'layer'],
  ] as const) {
    test(`${args[0]} --${option}`, () => {
      const r = cli([...args]);
      assert.equal(r.code, 0, r.err);
      assert.equal(r.err, `massive-activations: note: --${option} is not used by ${args[0]} as given; it was ignored.\n`);
    });
  }
});

describe('each documented form, end to end', () => {
  for (const [form, run] of FORMS) {
    test(form, () => {
      try {
        results.set(form, run());
      } catch (e) {
        results.set(form, `FAILED: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
        throw e;
      }
    });
  }
});
