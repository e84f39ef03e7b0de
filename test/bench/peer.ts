/**
 * npm run bench:peer: the seed's own method against our scan, on the same planted weights, in one
 * run. The peer (peer.py) is a PyTorch forward pass with hooks capturing every block's hidden state,
 * then the same statistics, under Debian's PyTorch (/usr/bin/python3; `apt-get install
 * python3-torch python3-onnx libopenblas0-pthread`). The weights are bench:scale's 4-bit
 * TinyLlama-1.1B-shaped model: PyTorch holds them dequantized to fp32 (4.4 GB), as a user of the
 * paper's scripts would; bench:paper's 7B would need 26 GB in fp32, more than this machine has.
 * Skips with a message where PyTorch is absent. Writes bench-results/peer.json.
 *
 * Options: --tokens 512
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TINYLLAMA_SHAPE } from '../models/build';
import { benchIds, machine, measureInChild, type Measurement, option } from './measure';

const PYTHON = '/usr/bin/python3';
const shape = TINYLLAMA_SHAPE;
const cacheDir = path.join(os.tmpdir(), 'massive-activations-scale');
const modelFile = path.join(cacheDir, 'tinyllama-planted-q4', 'model.onnx');
const scale = path.join(__dirname, 'scale.ts');


/** The environment the peer runs in: OpenBLAS tuned for this CPU, not by variables set for other tools. */
function peerEnv(threads: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return env;
}

interface Peer {
  loadS: number; wallS: number; peakRssMB: number; threads: number; blas: string[]; torch: string;
  found: { blocks: number[]; tokens: number[]; channels: number[]; top: number };
}

function main(): void {
  const probe = spawnSync(PYTHON, ['-c', 'import torch, onnx; print(torch.__version__)'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    process.stdout.write(`bench:peer skipped: ${PYTHON} has no PyTorch and ONNX (${(probe.stderr || probe.error?.message || '').trim().split('\n').pop()}). Install them with: apt-get install python3-torch python3-onnx libopenblas0-pthread\n`);
    return;
  }
  if (!existsSync(path.join(path.dirname(modelFile), '.complete'))) {
    process.stderr.write('building bench:scale\'s 4-bit model first…\n');
    const r = spawnSync(process.execPath, ['--import', 'tsx', scale, '--build', 'q4'], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('building the model failed');
  }
  const tokens = Number(option('tokens', '512'));
  const threads = os.cpus().length;
  const ids = benchIds(tokens, shape.vocab);
  const idsFile = path.join(os.tmpdir(), `massive-activations-peer-ids-${tokens}.json`);
  writeFileSync(idsFile, JSON.stringify(ids));
  process.stderr.write(`PyTorch with hooks, ${tokens} tokens…\n`);
  const r = spawnSync(PYTHON, [path.join(__dirname, 'peer.py'), modelFile, idsFile, String(threads), '1', '3', String(shape.heads)], { encoding: 'utf8', env: peerEnv(threads), maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`the PyTorch peer failed: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`);
  const peer = JSON.parse(r.stdout.trim().split('\n').pop()!) as Peer;
  process.stderr.write(`our scan, ${tokens} tokens…\n`);
  const ours: Measurement = measureInChild(scale, ['q4', 'scan', String(tokens)]);
  const same = JSON.stringify([peer.found.blocks, peer.found.tokens, peer.found.channels])
    === JSON.stringify([ours.found!.blocks, ours.found!.tokens, ours.found!.channels]);
  const blas = peer.blas.map((b) => b.split('/').slice(-2).join('/')).join(', ') || 'none found in the process maps';
  process.stdout.write(`\nTinyLlama-1.1B-shaped planted model (bench:scale's 4-bit weights), ${tokens} tokens, ${machine()}\n`);
  process.stdout.write(`peer: PyTorch ${peer.torch}, ${peer.threads} threads, BLAS ${blas}; fp32 weights dequantized from the 4-bit file. ours: ONNX Runtime's 4-bit kernels.\n\n`);
  process.stdout.write('| | load (s) | forward + statistics of every block (s) | peak RSS (GB) | found |\n|---|---:|---:|---:|---|\n');
  const f = (x: { blocks: number[]; tokens: number[]; channels: number[] }) => `${x.tokens.length} tokens × ch ${x.channels.join(', ')}, blocks ${x.blocks[0]}–${x.blocks.at(-1)}`;
  process.stdout.write(`| PyTorch + hooks (the paper's method) | ${peer.loadS.toFixed(1)} | ${peer.wallS.toFixed(2)} | ${(peer.peakRssMB / 1024).toFixed(2)} | ${f(peer.found)} |\n`);
  process.stdout.write(`| massive-activations scan | ${(ours.loadMs / 1000).toFixed(1)} | ${(ours.wallMs / 1000).toFixed(2)} | ${(ours.peakRssMB / 1024).toFixed(2)} | ${f(ours.found!)} |\n`);
  const ratio = peer.wallS / (ours.wallMs / 1000);
  process.stdout.write(`\nour scan takes ${(1 / ratio).toFixed(2)}× the peer's time (the peer ${ratio >= 1 ? `${ratio.toFixed(2)}× slower` : `${(1 / ratio).toFixed(2)}× faster`}); memory ${(ours.peakRssMB / peer.peakRssMB).toFixed(2)}× the peer's; same findings: ${same ? 'yes' : 'NO'}\n`);
  mkdirSync('bench-results', { recursive: true });
  writeFileSync(path.join('bench-results', 'peer.json'), JSON.stringify({ machine: machine(), tokens, peer, ours, timeRatio: +(ours.wallMs / 1000 / peer.wallS).toFixed(3), same }, null, 2));
}

main();
