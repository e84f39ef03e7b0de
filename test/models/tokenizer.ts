/**
 * A real Hugging Face tokenizer.json (WordLevel model, whitespace + punctuation pre-tokenizer,
 * a template that prepends <s>) for the planted text models. Id 1 is <s> and id 3 is ".",
 * the tokens the planted models mark.
 */
export const WORDS = [
  '<unk>', '<s>', '</s>', '.', ',', '!', '?', ';', ':', "'",
  'summer', 'is', 'warm', 'winter', 'cold', 'the', 'a', 'an', 'and', 'of', 'to', 'in', 'it', 'was', 'on', 'for',
  'with', 'as', 'at', 'by', 'this', 'that', 'from', 'or', 'but', 'not', 'are', 'be', 'have', 'has', 'had', 'they',
  'we', 'you', 'he', 'she', 'his', 'her', 'their', 'our', 'my', 'your', 'one', 'two', 'three', 'day', 'night',
  'sun', 'moon', 'sky', 'blue', 'red', 'green', 'big', 'small', 'cat', 'dog', 'bird', 'tree', 'house', 'water',
  'fire', 'time', 'year', 'people', 'world', 'life', 'hand', 'part', 'place', 'case', 'week', 'work', 'fact',
  'group', 'number', 'book', 'word', 'story', 'king', 'queen', 'city', 'river', 'light', 'dark', 'good', 'bad',
  'new', 'old', 'first', 'last', 'long', 'great', 'little', 'own', 'other', 'right', 'high', 'young', 'early',
  'important', 'few', 'public', 'same', 'able', 'massive', 'activations', 'language', 'model', 'models',
  'large', 'attention', 'token', 'tokens', 'hello', 'world', 'there', 'once', 'upon', 'lived', 'happy', 'sad',
  'went', 'came', 'saw', 'said', 'made', 'took', 'gave', 'found', 'thought', 'told', 'became', 'left', 'felt',
  'brought', 'began', 'kept', 'held', 'stood', 'heard', 'let', 'meant', 'set', 'met', 'ran', 'paid', 'sat',
  'spoke', 'lay', 'led', 'read', 'grew', 'lost', 'fell', 'sent', 'built', 'understood', 'drew', 'broke', 'spent',
  'cut', 'rose', 'drove', 'bought', 'wore', 'chose', 'ate', 'drank', 'slept', 'flew', 'swam', 'sang', 'played',
];

export function vocabulary(): string[] {
  return [...new Set(WORDS)];
}

export function tokenizerJson(): object {
  const vocab = Object.fromEntries(vocabulary().map((w, i) => [w, i]));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [0, 1, 2].map((id) => ({
      id, content: vocabulary()[id], single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
    })),
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: null,
    model: { type: 'WordLevel', vocab, unk_token: '<unk>' },
  };
}

export function tokenizerConfig(): object {
  return { bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', model_max_length: 512, tokenizer_class: 'PreTrainedTokenizerFast' };
}
