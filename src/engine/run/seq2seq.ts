import * as path from 'node:path';
import { EngineError, option } from '../base/errors';
import type { FeedTensor } from '../model/feeds';
import { feedOption } from './input';
import { prepareModel } from '../model/inspect';
import type { ModelTarget } from '../model/folder';
import { scanFile, type ScanOptions } from './scanFile';
import { printable } from '../base/text';
import type { ScanResult, StackResult } from '../model/results';

/**
 * An encoder-decoder export scanned from one prompt: the encoder runs on the prompt's tokens; its
 * last hidden state feeds the decoder, which starts from the decoder start token (config.json) or
 * the ids given; the decoder's cross-attention share is measured on the encoder's massive tokens.
 * The result's `layers` and `tokens` are the encoder's; `stacks` holds both.
 */
export async function scanSeq2Seq(target: ModelTarget, opts: ScanOptions): Promise<ScanResult> {
  const decoderFile = target.decoder!;
  const decInputs = prepareModel(decoderFile).info.inputs;
  const encNames = new Set(prepareModel(target.main).info.inputs.map((i) => i.name));
  const decNames = new Set(decInputs.map((i) => i.name));
  const unknown = Object.keys(opts.feeds ?? {}).find((k) => !encNames.has(k) && !decNames.has(k));
  if (unknown) {
    const [enc, dec] = [encNames, decNames].map((names) => [...names].map(printable).join(', '));
    throw new EngineError('bad-argument', `Neither part of the export has an input "${printable(unknown)}"; the encoder takes ${enc}, the decoder ${dec}.`);
  }
  const hidden = decInputs.find((i) => i.role === 'encoder_hidden_states');
  if (!hidden) {
    throw new EngineError('unsupported-input', `${printable(path.basename(decoderFile))} has no encoder_hidden_states input to take the encoder's output.`);
  }
  // The encoder mask spans the encoder's tokens, not the decoder's.
  const encMask = decInputs.find((i) => i.role === 'mask' && /encoder/i.test(i.name));
  const encoderName = printable(path.basename(target.main));
  const givenBy = `the output of ${encoderName}`;
  // Refused before the encoder runs: the pipeline computes these two itself.
  for (const [input, by] of [[hidden, givenBy], [encMask, `the mask over ${encoderName}'s tokens`]] as const) {
    const file = input && opts.feeds?.[input.name];
    if (file) {
      const alone = `scan a copy of ${printable(path.basename(decoderFile))} in a folder without ${encoderName}`;
      const both = `${feedOption(input.name, file)} and ${by} both give ${printable(input.name)}`;
      throw new EngineError('bad-argument', `${both}; give one (to run the decoder on states of your own, ${alone}).`);
    }
  }
  // A name both parts take (input_ids) is the encoder's: the decoder's ids are its start token.
  const pick = (names: Set<string>, not = new Set<string>()) => Object.fromEntries(Object.entries(opts.feeds ?? {})
    .filter(([k]) => names.has(k) && !not.has(k)));
  const encoder = await scanFile(target.main, { ...opts, target, keepOutput: true, feeds: pick(encNames) });
  const states = encoder.output;
  if (!states) throw new EngineError('runtime', `${printable(path.basename(target.main))} returned no hidden states for its decoder.`);
  const configName = printable(path.basename(target.config?.file ?? 'config.json'));
  const start = target.config?.decoderStartTokenId ?? target.config?.bosTokenId;
  const decoderIds = opts.decoderIds ?? (start !== undefined ? [start] : undefined);
  if (!decoderIds) {
    const why = target.config?.ignoredStartToken ?? `${configName} names no decoder start token`;
    throw new EngineError('bad-ids', `${why}, so the decoder has nothing to start from. Give its input ids (${option('decoderIds', '0')}).`);
  }
  const S = states.dims[1];
  const given: Record<string, FeedTensor> = { [hidden.name]: states };
  if (encMask) given[encMask.name] = encMask.type === 'int32' ? { type: 'int32', data: new Int32Array(S).fill(1), dims: [1, S] }
    : encMask.type === 'float32' ? { type: 'float32', data: new Float32Array(S).fill(1), dims: [1, S] }
      : { type: 'int64', data: new BigInt64Array(S).fill(1n), dims: [1, S] };
  const idsFrom = opts.decoderIds ? option('decoderIds') : `the decoder start token of ${configName}`;
  const decoder = await scanFile(decoderFile, {
    ...opts, target, prompt: undefined, image: undefined, ids: decoderIds, idsFrom, feeds: pick(decNames, encNames),
    givenFeeds: given, givenBy, crossTokens: encoder.massiveTokens,
  });
  const stack = (name: StackResult['name'], file: string, r: ScanResult): StackResult => ({ name, file, tokens: r.tokens, layers: r.layers, attention: r.attention, massiveTokens: r.massiveTokens, massiveChannels: r.massiveChannels });
  delete encoder.output;
  return {
    ...encoder,
    warnings: [...encoder.warnings, ...decoder.warnings.filter((w) => !encoder.warnings.includes(w)).map((w) => `decoder: ${w}`)],
    nonFinite: encoder.nonFinite ?? decoder.nonFinite,
    stacks: [stack('encoder', target.main, encoder), stack('decoder', decoderFile, decoder)],
  };
}
