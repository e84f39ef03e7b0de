/** Token ids to offer where a model has no tokenizer.json: valid for its vocabulary, and said to be samples. */
export interface SampleIds {
  ids: number[];
  /** The BOS id they start with, where the model's config gives one inside its vocabulary. */
  bos?: number;
  /** Where they come from, in a phrase ("the BOS id 1 from config.json, then 7 ids spread over the 32,000-token vocabulary"). */
  source: string;
}

const SPREAD = [0.11, 0.23, 0.31, 0.47, 0.53, 0.67, 0.79];
/** Low ids are often special tokens (padding, unknown, end): samples start above them. */
const FIRST_ORDINARY = 3;

/**
 * The BOS id (massive activations sit on the first token, so a sample must start as inputs do),
 * then ids spread over the vocabulary; without a known vocabulary, small ids every vocabulary has.
 */
export function sampleIds(vocab: number | null, bos: number | undefined): SampleIds {
  const start = bos !== undefined && (vocab === null || bos < vocab) ? [bos] : [];
  const room = vocab !== null && vocab > FIRST_ORDINARY + SPREAD.length;
  const rest = room ? SPREAD.map((f) => FIRST_ORDINARY + Math.floor(f * (vocab - FIRST_ORDINARY)))
    : Array.from({ length: Math.min(SPREAD.length, Math.max(1, (vocab ?? 8) - 1)) }, (_, i) => i + 1);
  const ids = [...new Set([...start, ...rest])].filter((i) => vocab === null || i < vocab);
  const first = start.length ? `the BOS id ${bos} from the model's config, then ` : '';
  const spread = room ? `${ids.length - start.length} ids spread over the ${vocab.toLocaleString('en-US')}-token vocabulary`
    : vocab === null ? `${ids.length - start.length} small ids (the vocabulary size is not in the graph)` : `${ids.length - start.length} ids of the ${vocab}-token vocabulary`;
  return { ids, ...(start.length ? { bos } : {}), source: `${first}${spread}` };
}
