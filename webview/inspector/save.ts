import { call } from '../vscode';

/** Saves a canvas (a chart or a map) as a PNG beside the model. */
export async function savePng(name: string, canvasId: string): Promise<void> {
  const canvas = document.getElementById(canvasId) as HTMLCanvasElement | null;
  if (!canvas) return;
  await call('export', { what: 'png', name, dataUrl: canvas.toDataURL('image/png') });
}
