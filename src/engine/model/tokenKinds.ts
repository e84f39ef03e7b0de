import type { TokenInfo } from './results';

/** Where a token sits, in the paper's terms: massive activations favour the first token and the first delimiter. */
export type TextTokenKind = 'first' | 'first-delimiter' | 'delimiter' | 'image' | 'audio' | 'other';

/** The text of a token whose embedding a vision-language model replaced by image features. */
export const IMAGE_TOKEN_TEXT = '<image>';
/** The same for audio features (an audio-language model). */
export const AUDIO_TOKEN_TEXT = '<audio>';
export type VisionTokenKind = 'cls' | 'register' | 'patch';
export type TokenKind = TextTokenKind | VisionTokenKind;

// The paper's delimiters are "." and "\n" (commas and the like do not attract massive activations).
// Tokenizers spell a newline "\n", "Ċ" (GPT-2 byte level) or "<0x0A>" (SentencePiece byte fallback).
const DELIMITER = /^(?:[.。\n]|Ċ|<0x0A>|▁?\.)$/;

export function isDelimiter(text: string): boolean {
  const t = text.replace(/^[\sĠ▁]+(?=\S)/, '');
  return DELIMITER.test(t) || /\n|Ċ|<0x0A>/.test(text);
}

export function textTokenKinds(tokens: TokenInfo[]): TextTokenKind[] {
  let seenDelimiter = false;
  return tokens.map((t, i) => {
    if (i === 0) return 'first';
    if (t.text === IMAGE_TOKEN_TEXT) return 'image';
    if (t.text === AUDIO_TOKEN_TEXT) return 'audio';
    if (!isDelimiter(t.text)) return 'other';
    if (seenDelimiter) return 'delimiter';
    seenDelimiter = true;
    return 'first-delimiter';
  });
}

/** ViT token order: CLS, then registers, then patches (DINOv2 with registers). */
export function visionTokenKinds(tokens: number, patches: number): VisionTokenKind[] {
  const registers = Math.max(0, tokens - 1 - patches);
  return Array.from({ length: tokens }, (_, i) => (i === 0 ? 'cls' : i <= registers ? 'register' : 'patch'));
}
