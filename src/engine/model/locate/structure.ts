import type { GraphIndex } from '../onnx/graph';
import { groupByMixer, isPostNorm, residualAdds, toBlocks } from './residual';
import type { BlockMatcher } from './types';

/** When names say nothing: follow the residual chain and cut a block before each token-mixing update. */
export const structureMatcher: BlockMatcher = {
  name: 'structure',
  match(g: GraphIndex) {
    const points = residualAdds(g);
    const postNorm = isPostNorm(g, points);
    const blocks = toBlocks(g, points, groupByMixer(points), postNorm);
    if (!blocks.length) return undefined;
    return { matcher: this.name, blocks, postNorm, warnings: [] };
  },
};
