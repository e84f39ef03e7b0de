import { readFileSync } from 'node:fs';
import { EngineError } from '../engine/base/errors';
import type { ScanResult } from '../engine/model/results';
import type { AttentionAnalysis } from '../experiments/attention/run';
import type { FeatureMapResult } from '../experiments/featureMap/run';
import { stringFlag, type Flags } from '../experiments/flags';
import { inputFiles } from '../experiments/options';
import { versions } from '../report/versions';
import { composeReport, type ReportMethod, type ReportRun } from '../report/report';
import { checkReportFolder, writeReport } from '../report/write';
import type { EngineClient } from '../worker/client';
import { parseArgs } from './args';
import { planRun } from './plan';

export const REPORT_USAGE = 'report MODEL|FOLDER --out DIR [--prompt TEXT | --prompt-file F | --ids 1,2,3 | --image IMG] [--json]';

/** The options a report's runs share (its input and settings); --out, --json and --layer are the report's own. */
const OWN = new Set(['out', 'json', 'csv', 'layer']);

/**
 * massive-activations report MODEL --out DIR: the scan, the feature map of the first block with
 * massive activations and the attention of the block with the strongest sink heads, each run as
 * the command line the report prints for it, written as report.md with SVG figures and the JSON of
 * each run. DIR must be new or empty: a report never replaces a file.
 */
export async function report(model: string, flags: Flags, client: EngineClient): Promise<{ dir: string; files: string[] }> {
  const dir = stringFlag(flags, 'out');
  if (!dir) throw new EngineError('bad-argument', `Give the folder to write the report into: massive-activations ${REPORT_USAGE}`);
  checkReportFolder(dir);
  const shared = [...flags].filter(([k]) => !OWN.has(k)).flatMap(([k, v]) => (v === true ? [`--${k}`] : String(v).split('\n').flatMap((x) => [`--${k}`, x])));
  const run = async <R>(method: ReportMethod, title: string, argv: string[]): Promise<ReportRun & { result: R }> => {
    const plan = planRun({ ...parseArgs(argv), command: argv[0] });
    const result = await client.call(plan.command.method, plan.callArgs as never).result as R;
    return { method, title, result, argv };
  };
  const scan = await run<ScanResult>('scan', 'Scan', ['scan', model, ...shared, '--json']);
  const s = scan.result;
  const first = s.layers.find((l) => l.massive.length)?.index;
  const fm: ReportRun = first === undefined
    ? { method: 'featureMap', title: 'Feature map', why: 'no block has massive activations on this input' }
    : await run<FeatureMapResult>('featureMap', `The first block with massive activations: block ${first}`, ['feature-map', model, ...shared, '--layer', String(first), '--json']);
  // The strongest sinks: the block whose most sink-like head puts the most attention on the first token.
  const sinkiest = s.attention.map((a, i) => ({ i, score: Math.max(-1, ...a.sinkScores) })).filter((a) => a.score >= 0).sort((a, b) => b.score - a.score)[0]?.i;
  const at: ReportRun = sinkiest === undefined
    ? { method: 'attention', title: 'Attention', why: 'no block of this model exposes attention probabilities to read sinks from' }
    : await run<AttentionAnalysis>('attention', `The strongest sink heads: block ${sinkiest}`, ['attention', model, ...shared, '--layer', String(sinkiest), '--json']);
  const files = composeReport({
    model: s.model,
    input: { prompt: s.input.kind === 'text' ? (flags.has('prompt-file') ? readFileSync(stringFlag(flags, 'prompt-file')!, 'utf8') : stringFlag(flags, 'prompt')) : undefined, ids: s.input.kind === 'ids' ? s.tokens.map((t) => t.id!) : undefined, image: stringFlag(flags, 'image') },
    thresholds: s.settings.thresholds,
    runs: [scan, fm, at],
    versions: versions(),
  });
  return { dir, files: writeReport(dir, files, inputFiles(flags)) };
}
