import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { writeModel } from '../models/graphBuilder';
import { llamaModel } from '../models/layouts/llama';
import { makeSpec } from '../models/spec';
import { vocabulary } from '../models/tokenizer';
import { buildGpt2 } from '../models/build';
import { DT } from '../../src/engine/model/onnx/dtype';
import { CLI, PAPER_PROMPT, tempDir } from '../fixtures';

/**
 * Issue 25: the engine belongs to its run. Before, Ctrl-C during a whole-graph scan printed
 * "cancelled" and exited while the engine ran on (re-parented, every core, ~1 GB) until its ONNX
 * Runtime call ended; so did a SIGKILL of the command. Each test here waits for a state (the engine
 * inside its long native call, seen by its memory), never for a time.
 */

const root = tempDir('lifetime');
const TOKENS = 8192;
let long: string;
let small: string;

before(() => {
  assert.ok(existsSync(CLI), `${CLI} is missing: run "npm run build" first (npm test does)`);
  // Two blocks at 8,192 tokens: one whole-graph pass is a single native call of several seconds.
  const spec = makeSpec({ arch: 'llama', vocab: vocabulary().length, maxPos: TOKENS, layers: 2, seed: 3 });
  long = path.join(root, 'long', 'model.onnx');
  mkdirSync(path.dirname(long));
  writeModel(llamaModel(spec, DT.FLOAT), long);
  small = buildGpt2(root).file;
});

const ids = Array.from({ length: TOKENS }, (_, k) => 1 + (k % 40)).join(',');

function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** A process that is gone or a zombie (dead, waiting to be reaped) no longer runs. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Resolves when `check` holds, checking on each turn of the event loop's timers; rejects if the child exits first. */
function until<T>(child: ChildProcess, check: () => T | undefined, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = () => reject(new Error(`the command ended before ${what}`));
    child.once('exit', onExit);
    const poll = () => {
      const v = check();
      if (v !== undefined) { child.off('exit', onExit); resolve(v); } else setTimeout(poll, 20);
    };
    poll();
  });
}

/** Runs the CLI until its engine is inside the long pass, then hands back both. */
async function inLongRun(): Promise<{ cli: ChildProcess; engine: number; exited: Promise<{ code: number | null; signal: string | null; err: string }> }> {
  const cli = spawn(process.execPath, [CLI, 'scan', long, '--ids', ids, '--max-tokens', String(TOKENS), '--whole-graph'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  cli.stderr!.on('data', (d) => { err += d; });
  const exited = new Promise<{ code: number | null; signal: string | null; err: string }>((resolve) => cli.on('exit', (code, signal) => resolve({ code, signal, err })));
  const engine = await until(cli, () => children(cli.pid!)[0], 'its engine started');
  // The attention of 4 heads over 8,192² positions is 1 GB a tensor: past 1.2 GB the pass is under way.
  await until(cli, () => (rssBytes(engine) > 1.2 * 2 ** 30 ? true : undefined), 'the engine was inside its pass');
  return { cli, engine, exited };
}

/** After the command has exited, its engine must be gone within a second (the parent watch polls every 100 ms). */
async function goneWithin(engine: number, ms: number): Promise<boolean> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (!alive(engine)) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return !alive(engine);
}

describe('the engine ends with its command', { skip: process.platform !== 'linux' ? 'reads /proc (Linux)' : false }, () => {
  for (const [signal, code, message] of [['SIGINT', 130, /cancelled/], ['SIGTERM', 143, /stopped \(SIGTERM\)/], ['SIGHUP', 129, /stopped \(SIGHUP\)/]] as const) {
    test(`${signal} during a whole-graph pass ends the engine before the command exits`, async () => {
      const { cli, engine, exited } = await inLongRun();
      cli.kill(signal);
      const r = await exited;
      assert.equal(r.code, code, r.err);
      assert.match(r.err, message);
      assert.ok(await goneWithin(engine, 1000), `engine ${engine} still running a second after the command exited`);
    });
  }

  test('SIGKILL of the command: the engine notices its parent is gone and ends itself', async () => {
    const { cli, engine, exited } = await inLongRun();
    cli.kill('SIGKILL');
    const r = await exited;
    assert.equal(r.signal, 'SIGKILL');
    assert.ok(await goneWithin(engine, 1000), `engine ${engine} still running a second after its parent was killed`);
  });

  test('a reader that closes standard output: the command leaves quietly and its engine is gone', async () => {
    const cli = spawn(process.execPath, [CLI, 'scan', small, '--prompt', PAPER_PROMPT], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    cli.stderr!.on('data', (d) => { err += d; });
    const engine = await until(cli, () => children(cli.pid!)[0], 'its engine started');
    cli.stdout!.destroy();
    const code = await new Promise((resolve) => cli.on('exit', resolve));
    assert.equal(code, 0, err);
    assert.equal(err, '', 'no EPIPE stack trace');
    assert.ok(await goneWithin(engine, 1000));
  });

  test('standard output on a full disk: one sentence naming it, no stack trace', { skip: existsSync('/dev/full') ? false : 'no /dev/full' }, async () => {
    const full = openSync('/dev/full', 'w');
    const cli = spawn(process.execPath, [CLI, 'scan', small, '--prompt', PAPER_PROMPT], { stdio: ['ignore', full, 'pipe'] });
    closeSync(full);
    let err = '';
    cli.stderr!.on('data', (d) => { err += d; });
    const code = await new Promise((resolve) => cli.on('exit', resolve));
    assert.equal(code, 1);
    assert.match(err, /^massive-activations: The disk is full: the output \(standard output, \/dev\/full\) could not be written/);
    assert.doesNotMatch(err, /\n\s+at |Internal error/);
  });
});
