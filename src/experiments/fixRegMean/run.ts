import { cosine, meanStd } from '../../engine/measure/vectors';
import { checkAbort, EngineError } from '../../engine/base/errors';
import { resolveInput } from '../../engine/run/input';
import { syntheticFeeds, type FeedTensor } from '../../engine/model/feeds';
import { DT } from '../../engine/model/onnx/dtype';
import { patchGrid } from '../../engine/model/vision/patches';
import { sessions, type ExperimentBase } from '../../engine/run/experiment';
import { checkCount, LIMITS } from '../../engine/base/limits';
import { blockOf, forward, isFinite, nonFiniteNote, requireFinite, type Edits, type ForwardOutputs } from '../../engine/run/forward';

export interface FixRegMeanOptions extends ExperimentBase {
  /** Images whose register features are averaged, and on which the change is measured. */
  images?: string[];
  /** Without images: this many deterministic synthetic inputs. */
  count?: number;
}

export interface OutputChange { relativeL2: number; cosine: number; top1Agreement: number | null }

export interface FixRegMeanResult {
  registers: number;
  tokens: number;
  images: number;
  /** Registers replaced by their mean over the images, at every block (the paper: accuracy unchanged). */
  /** null when every edited run was non-finite (see notes). */
  fixRegMean: OutputChange | null;
  /** Registers set to zero at every block, for contrast. */
  zeroRegisters: OutputChange | null;
  /** Runs left out because the edit made the model non-finite. */
  notes?: string[];
  /** Per block: mean over images and registers of |register feature| vs its mean (how constant they are). */
  registerSpread: { layer: number; meanNorm: number; deviation: number }[];
  inputKind: 'images' | 'synthetic';
}

/** DINOv2-with-registers' Fix-Reg-Mean (Sun et al. §5): replace register features by their mean at every block. */
export async function fixRegMean(file: string, o: FixRegMeanOptions = {}): Promise<FixRegMeanResult> {
  const open = sessions(file, o);
  const probe = await open({ read: [] });
  const info = probe.prepared.info;
  if (info.family !== 'vision') throw new EngineError('bad-argument', 'Fix-Reg-Mean is for vision transformers with register tokens.');
  checkCount(o.count, 'count', 'The number of inputs', 2);
  if ((o.images?.length ?? 0) > LIMITS.count) throw new EngineError('bad-argument', `${o.images!.length.toLocaleString('en-US')} images given; one run takes at most ${LIMITS.count.toLocaleString('en-US')}.`);
  const feedsList: Record<string, FeedTensor>[] = o.images?.length
    ? await Promise.all(o.images.map(async (image) => (await resolveInput(file, probe, { image })).feeds))
    : Array.from({ length: o.count ?? 4 }, (_, k) => syntheticFeeds(
      info.inputs.map((i) => ({ ...i, elemType: probe.prepared.index.elemTypeOf(i.name) ?? DT.FLOAT })),
      k + 1,
    ));
  if (feedsList.length < 2) throw new EngineError('bad-argument', 'Fix-Reg-Mean needs at least two images to average over.');
  const first = await forward(probe, { feeds: feedsList[0] });
  const px = Object.values(feedsList[0]).find((f) => f.dims.length === 4);
  const grid = patchGrid(probe, px?.dims[2], px?.dims[3]);
  const T = first.tokens;
  const D = first.channels;
  const registers = grid ? T - 1 - grid.rows * grid.cols : 0;
  if (registers <= 0) throw new EngineError('bad-argument', 'This vision transformer has no register tokens (tokens are CLS then patches).');
  const blocks = info.blocks;
  const om = await open({ read: [], edit: ['blocks.*.resid_post'] });

  const plain: ForwardOutputs[] = [];
  const mean = Array.from({ length: blocks }, () => new Float64Array(registers * D));
  for (const [k, feeds] of feedsList.entries()) {
    checkAbort(o.signal);
    o.onProgress?.({ stage: 'run', message: `Image ${k + 1}/${feedsList.length}`, done: k, total: feedsList.length * 3 });
    const out = await forward(om, { feeds, tokens: T });
    requireFinite(out, `image ${k + 1}'s`, 'register means and output changes');
    plain.push(out);
    for (let l = 0; l < blocks; l++) {
      for (let r = 0; r < registers; r++) for (let c = 0; c < D; c++) mean[l][r * D + c] += blockOf(out, l)[(1 + r) * D + c] / feedsList.length;
    }
  }
  const registerSpread = mean.map((m, layer) => {
    const norms: number[] = [];
    const devs: number[] = [];
    for (const out of plain) for (let r = 0; r < registers; r++) {
      let n = 0, dv = 0;
      for (let c = 0; c < D; c++) { const v = blockOf(out, layer)[(1 + r) * D + c]; n += v * v; dv += (v - m[r * D + c]) ** 2; }
      norms.push(Math.sqrt(n));
      devs.push(Math.sqrt(dv));
    }
    return { layer, meanNorm: meanStd(norms).mean, deviation: meanStd(devs).mean };
  });
  const editsWith = (value: (l: number, r: number, c: number) => number): Edits => new Map(Array.from({ length: blocks }, (_, l) => [l,
    Array.from({ length: registers * D }, (_, i) => ({ token: 1 + Math.floor(i / D), channel: i % D, value: value(l, Math.floor(i / D), i % D) }))]));
  const withMean = editsWith((l, r, c) => mean[l][r * D + c]);
  const withZero = editsWith(() => 0);
  const changes: { mean: OutputChange[]; zero: OutputChange[] } = { mean: [], zero: [] };
  const notes = new Set<string>();
  for (const [k, feeds] of feedsList.entries()) {
    checkAbort(o.signal);
    o.onProgress?.({ stage: 'run', message: `Fix-Reg-Mean on image ${k + 1}/${feedsList.length}`, done: feedsList.length + 2 * k, total: feedsList.length * 3 });
    for (const [edits, list, label] of [[withMean, changes.mean, 'Replacing the registers by their mean'], [withZero, changes.zero, 'Zeroing the registers']] as const) {
      const out = await forward(om, { feeds, tokens: T }, edits);
      if (!isFinite(out)) notes.add(nonFiniteNote(out, label));
      else list.push(outputChange(plain[k], out));
    }
  }
  const avg = (xs: OutputChange[]): OutputChange | null => (!xs.length ? null : {
    relativeL2: meanStd(xs.map((x) => x.relativeL2)).mean,
    cosine: meanStd(xs.map((x) => x.cosine)).mean,
    top1Agreement: xs[0].top1Agreement === null ? null : meanStd(xs.map((x) => x.top1Agreement ?? 0)).mean,
  });
  return { registers, tokens: T, images: feedsList.length, fixRegMean: avg(changes.mean), zeroRegisters: avg(changes.zero), registerSpread, inputKind: o.images?.length ? 'images' : 'synthetic', ...(notes.size ? { notes: [...notes] } : {}) };
}

/**
 * How much the model's output moved: a classifier's logits, or the CLS token of the last hidden state
 * (what a linear probe reads).
 */
function outputChange(a: ForwardOutputs, b: ForwardOutputs): OutputChange {
  const pick = (o: ForwardOutputs) => {
    const t = o.output!;
    if (t.dims.length === 3) return t.data.subarray(0, t.dims[2]);
    return t.data;
  };
  const x = pick(a);
  const y = pick(b);
  let diff = 0, norm = 0;
  for (let i = 0; i < x.length; i++) { diff += (x[i] - y[i]) ** 2; norm += x[i] ** 2; }
  const classifier = a.output!.dims.length === 2;
  const argmax = (v: Float32Array) => v.reduce((best, val, i) => (val > v[best] ? i : best), 0);
  return { relativeL2: Math.sqrt(diff / Math.max(norm, 1e-30)), cosine: cosine(x, y), top1Agreement: classifier ? (argmax(x) === argmax(y) ? 1 : 0) : null };
}
