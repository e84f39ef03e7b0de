import { EngineError } from '../../base/errors';
import type { GraphIndex } from '../onnx/graph';
import { fusedNormMatcher } from './fusedNorm';
import { scopeNamesMatcher } from './scopeNames';
import { structureMatcher } from './structure';
import type { BlockMatcher, Location } from './types';
import { branchMixer } from './mixers';

/**
 * The one place format knowledge is registered, most specific first. A new exporter layout gets a
 * matcher here rather than special cases elsewhere.
 */
export const MATCHERS: BlockMatcher[] = [fusedNormMatcher, scopeNamesMatcher, structureMatcher];

export function locateBlocks(g: GraphIndex, modelName: string): Location {
  let structural: Location | undefined;
  for (const m of MATCHERS) {
    const loc = m.match(g);
    if (!loc) continue;
    if (m === scopeNamesMatcher) {
      // Names can lie (a renamed module, a shared scope); cross-check with the structure.
      structural = structureMatcher.match(g);
      if (structural && structural.blocks.length !== loc.blocks.length) {
        loc.warnings.push(`Scope names give ${loc.blocks.length} blocks but the residual structure gives ${structural.blocks.length}; using the names.`);
      }
    }
    return loc;
  }
  // A module exported alone (torch.onnx.export(model.layers[0].self_attn, …)) mixes tokens but has no stream to scan.
  const mixer = branchMixer(g, new Set(g.graph.node.keys()));
  if (mixer) {
    throw new EngineError('not-transformer', `${modelName} mixes tokens (${mixer}) but has no residual stream: no x + f(x) runs around it, so it is one module exported alone ` +
      `(${mixer === 'attention' ? 'an attention' : 'a token-mixing'} fragment), not a model of blocks, and there is nothing to scan. Open the export of the whole model.`);
  }
  throw new EngineError('not-transformer', `No transformer blocks found in ${modelName}: the graph has no residual update that mixes tokens (attention, a recurrence or a convolution over the sequence). Massive Activations needs a transformer (language model, encoder or vision transformer).`);
}
