import { closeSync, openSync, readSync } from 'node:fs';
import * as path from 'node:path';
import { EngineError, option } from '../base/errors';
import { fileError, kindOf, statFile } from '../base/files';
import { isBatchDim, isSequenceDim, type ClassifiedInput, type FeedTensor } from './feeds';
import { DT, dtypeName, floatToHalf, halfToFloat } from './onnx/dtype';
import { printable } from '../base/text';

/**
 * A tensor the user supplies for a model input: a .npy file (little-endian, C order) or JSON —
 * `{"dims": [1, 5, 8], "data": [...]}` or a nested array. Its shape is checked against the input's
 * before its values are read (a .npy's header, a JSON file's size), so what a feed costs is bounded
 * by what the input can take; the values are converted to the input's own type as they are read.
 */

export const FEED_LIMITS = {
  /**
   * JSON feeds are parsed here without JSON.parse (which took 4.45 GB for a 200 MB file); what
   * remains is the file's bytes plus the tensor, at most 5× the file (int64 zeros "0,"): the
   * README states the measured peak.
   */
  json: 64 * 2 ** 20,
  /** The tensor a feed becomes, whatever the input's symbolic dims would allow. */
  tensor: 1024 * 2 ** 20,
} as const;

/** The bounds of one run a feed must fit: sequence-like dims hold at most `maxTokens`. */
export interface FeedBounds { maxTokens: number }

type Target = Float32Array | Uint16Array | BigInt64Array | Int32Array | Uint8Array;

/** How one input's element type is held and filled; integer types check each value. */
interface Sink { type: string; bytes: number; alloc: (n: number) => Target; wholeNumbers?: { min: number; max: number } }

function sinkOf(input: ClassifiedInput): Sink {
  switch (input.elemType) {
    case DT.FLOAT: return { type: 'float32', bytes: 4, alloc: (n) => new Float32Array(n) };
    case DT.FLOAT16: return { type: 'float16', bytes: 2, alloc: (n) => new Uint16Array(n) };
    case DT.INT64: {
      const whole = { min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER };
      return { type: 'int64', bytes: 8, alloc: (n) => new BigInt64Array(n), wholeNumbers: whole };
    }
    case DT.INT32: return { type: 'int32', bytes: 4, alloc: (n) => new Int32Array(n), wholeNumbers: { min: -(2 ** 31), max: 2 ** 31 - 1 } };
    case DT.UINT8: return { type: 'uint8', bytes: 1, alloc: (n) => new Uint8Array(n), wholeNumbers: { min: 0, max: 255 } };
    case DT.BOOL: return { type: 'bool', bytes: 1, alloc: (n) => new Uint8Array(n) };
    default: {
      const type = printable(dtypeName(input.elemType));
      throw new EngineError('unsupported-input', `The input "${printable(input.name)}" has a data type (${type}) that cannot be fed from a file here.`);
    }
  }
}

export function readFeedFile(file: string, input: ClassifiedInput, bounds: FeedBounds): FeedTensor {
  const what = `tensor for the input "${printable(input.name)}"`;
  const name = printable(path.basename(file));
  const st = statFile(file, what);
  if (!st.isFile()) throw new EngineError('bad-file', `The ${what} ${printable(file)} is ${kindOf(st)}, not a regular file; give a regular file.`);
  const sink = sinkOf(input);
  if (/\.npy$/i.test(file)) return readNpy(file, name, st.size, input, sink, bounds);
  if (st.size > FEED_LIMITS.json) {
    throw new EngineError('bad-file', `${name} is ${mb(st.size)}; JSON feeds are read up to ${mb(FEED_LIMITS.json)} `
      + '(a JSON tensor takes several times its file\'s size to read). Save the tensor as .npy (numpy.save) instead: it is read at its own size.');
  }
  const bytes = readAll(file, what, st.size);
  const parser = new JsonTensor(bytes, name);
  const shape = parser.scan();
  checkShape(shape.dims, input, sink, name, bounds);
  if (shape.count !== product(shape.dims)) {
    const [got, want] = [shape.count, product(shape.dims)].map((x) => x.toLocaleString('en-US'));
    throw new EngineError('bad-file', `${name} holds ${got} values for dims ${shape.dims.join('×')} (${want}).`);
  }
  const data = sink.alloc(shape.count);
  parser.fill(putter(data, sink, input, name, shape.dims, 'json'));
  return { type: sink.type, data, dims: shape.dims };
}

/** The input's shape against a feed's dims: rank, fixed dims, batch 1, sequence dims within the token limit, a bounded size. */
function checkShape(dims: number[], input: ClassifiedInput, sink: Sink, name: string, bounds: FeedBounds): void {
  const n = product(dims);
  const iname = printable(input.name);
  const declared = input.shape;
  const shown = declared.map((x) => printable(String(x))).join('×');
  if (n === 0) {
    const why = input.role === 'past' ? ' An empty cache is what the engine feeds by default: drop this feed.' : '';
    throw new EngineError('bad-argument', `${name} holds no values (dims ${dims.join('×') || 'none'}); the input "${iname}" needs at least one.${why}`);
  }
  if (declared.length && declared.length !== dims.length) {
    throw new EngineError('bad-argument', `${name} is ${dims.join('×')} but the input "${iname}" takes rank ${declared.length} (${shown}).`);
  }
  declared.forEach((d, k) => {
    if (typeof d === 'number' && d > 0 && dims[k] !== d) {
      throw new EngineError('bad-argument', `${name} has ${dims[k]} along axis ${k}, but the input "${iname}" is declared ${shown}.`);
    }
    if (typeof d !== 'string') return;
    const along = `${dims[k].toLocaleString('en-US')} along axis ${k} (${printable(d)})`;
    if (isBatchDim(d) && dims[k] !== 1) throw new EngineError('bad-argument', `${name} has ${along}; the engine runs one input at a time: give a batch of 1.`);
    // Audio frames and image sides are not tokens: only the byte bound below holds them.
    const tokenAxis = input.role !== 'features' && input.role !== 'pixels' && isSequenceDim(d);
    if (tokenAxis && dims[k] > bounds.maxTokens) {
      const limit = `${bounds.maxTokens.toLocaleString('en-US')} tokens (the smaller of ${option('maxTokens')} and the model's position table)`;
      throw new EngineError('too-long', `${name} has ${along}, over the limit of ${limit}.`, { tokens: dims[k], limit: bounds.maxTokens, unit: 'tokens' });
    }
  });
  if (n * sink.bytes > FEED_LIMITS.tensor) {
    const size = `${mb(n * sink.bytes)} as ${sink.type}`;
    throw new EngineError('bad-argument', `${name} holds ${dims.join('×')} values (${size}); a feed may be at most ${mb(FEED_LIMITS.tensor)}.`);
  }
}

/** Where a value came from: JSON text (exact up to 2^53) or a .npy's binary value. */
type Put = (k: number, v: number, literal: () => string) => void;

/** Stores value k into the tensor, refusing what the input's type cannot hold exactly. */
function putter(data: Target, sink: Sink, input: ClassifiedInput, name: string, dims: number[], source: 'json' | 'npy'): Put {
  const at = (k: number) => `[${indexOf(k, dims).join(', ')}]`;
  const whole = sink.wholeNumbers;
  const iname = printable(input.name);
  const check = (k: number, v: number, literal: () => string) => {
    if (!whole || (Number.isSafeInteger(v) && v >= whole.min && v <= whole.max)) return;
    const text = literal();
    const holds = `${name} holds ${printable(text.length > 40 ? `${text.slice(0, 40)}…` : text)} at ${at(k)}`;
    if (!Number.isInteger(v)) throw new EngineError('bad-argument', `${holds}; the input "${iname}" takes whole numbers (${sink.type}).`);
    if (source === 'json' && !Number.isSafeInteger(v)) {
      throw new EngineError('bad-argument', `${holds}, beyond the whole numbers a JSON number holds exactly (±9,007,199,254,740,991); `
        + `give ${sink.type} values in range, or larger ones in a .npy.`);
    }
    const range = `${whole.min.toLocaleString('en-US')} to ${whole.max.toLocaleString('en-US')}`;
    throw new EngineError('bad-argument', `${holds}, outside what the input "${iname}" (${sink.type}) takes here (${range}).`);
  };
  if (data instanceof BigInt64Array) return (k, v, literal) => { check(k, v, literal); data[k] = BigInt(v); };
  if (sink.type === 'float16') return (k, v) => { data[k] = floatToHalf(v); };
  if (sink.type === 'bool') return (k, v) => { data[k] = v ? 1 : 0; };
  return (k, v, literal) => { check(k, v, literal); (data as Float32Array)[k] = v; };
}

/** The multi-index of flat position k in a C-ordered tensor of `dims`. */
function indexOf(k: number, dims: number[]): number[] {
  const idx = new Array<number>(dims.length).fill(0);
  for (let a = dims.length - 1; a >= 0; a--) { idx[a] = k % dims[a]; k = Math.floor(k / dims[a]); }
  return idx;
}

const product = (dims: number[]) => dims.reduce((a, b) => a * b, 1);
const mb = (n: number) => `${Math.round(n / 2 ** 20).toLocaleString('en-US')} MB`;

function readAll(file: string, what: string, size: number): Buffer {
  const fd = openFeed(file, what);
  try {
    const b = Buffer.allocUnsafe(size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, b, got, size - got, got);
      if (n === 0) break;
      got += n;
    }
    return b.subarray(0, got);
  } catch (e) {
    throw fileError(e, file, what);
  } finally {
    closeSync(fd);
  }
}

function openFeed(file: string, what: string): number {
  try { return openSync(file, 'r'); } catch (e) { throw fileError(e, file, what); }
}

/** .npy element types: their size and how a value is read from a chunk of the body. */
const NPY: Record<string, { name: string; bytes: number; read: (b: Buffer, off: number) => number | bigint; same?: boolean }> = {
  '<f4': { name: 'float32', bytes: 4, read: (b, o) => b.readFloatLE(o), same: true },
  '<f8': { name: 'float64', bytes: 8, read: (b, o) => b.readDoubleLE(o) },
  '<f2': { name: 'float16', bytes: 2, read: (b, o) => halfToFloat(b.readUInt16LE(o)), same: true },
  '<i8': { name: 'int64', bytes: 8, read: (b, o) => b.readBigInt64LE(o), same: true },
  '<i4': { name: 'int32', bytes: 4, read: (b, o) => b.readInt32LE(o), same: true },
  '|i1': { name: 'int8', bytes: 1, read: (b, o) => b.readInt8(o) },
  '|u1': { name: 'uint8', bytes: 1, read: (b, o) => b[o], same: true },
  '|b1': { name: 'bool', bytes: 1, read: (b, o) => b[o], same: true },
};
/** A .npy header is a few hundred bytes; anything past this is not one. */
const MAX_NPY_HEADER = 1 << 20;
const CHUNK = 8 * 2 ** 20;

/**
 * NumPy's .npy format, versions 1–3: magic, version, header length, a Python-dict header, the raw
 * array. Only the header is read before the shape is checked; the body is then read in chunks into
 * the tensor itself (of the same element type: straight into its bytes).
 */
function readNpy(file: string, name: string, size: number, input: ClassifiedInput, sink: Sink, bounds: FeedBounds): FeedTensor {
  const what = `tensor for the input "${printable(input.name)}"`;
  const fd = openFeed(file, what);
  try {
    const read = (buf: Buffer, at: number) => {
      let got = 0;
      while (got < buf.length) {
        const n = readSync(fd, buf, got, buf.length - got, at + got);
        if (n === 0) break;
        got += n;
      }
      return got;
    };
    const lead = Buffer.alloc(12);
    const leadLen = read(lead, 0);
    const bad = (why: string) => new EngineError('bad-file', `${name} ${why}`);
    if (leadLen < 10 || lead.readUInt32BE(0) !== 0x934e554d || lead[4] !== 0x50 || lead[5] !== 0x59) throw bad('is not a .npy file (no \\x93NUMPY magic).');
    const major = lead[6];
    const headerStart = major === 1 ? 10 : 12;
    const headerLen = major === 1 ? lead.readUInt16LE(8) : lead.readUInt32LE(8);
    if (headerLen > MAX_NPY_HEADER || headerStart + headerLen > size) {
      throw bad(`has an unreadable .npy header (it claims ${headerLen.toLocaleString('en-US')} bytes).`);
    }
    const headerBuf = Buffer.alloc(headerLen);
    read(headerBuf, headerStart);
    const header = headerBuf.toString('latin1');
    const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
    const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
    if (!descr || shape === undefined) throw bad('has an unreadable .npy header.');
    if (/'fortran_order'\s*:\s*True/.test(header)) throw bad('is stored in Fortran order; save it with numpy.ascontiguousarray first.');
    const fields = shape.split(',').map((s) => s.trim()).filter(Boolean);
    if (!fields.every((s) => /^\d+L?$/.test(s) && Number.isSafeInteger(parseInt(s, 10)))) {
      throw bad(`has an unreadable .npy header (shape (${printable(shape.slice(0, 60))})).`);
    }
    const dims = fields.map((s) => parseInt(s, 10));
    const kind = NPY[descr];
    if (!kind) throw bad(`holds dtype ${printable(descr)}; give float32, float64, float16, int64, int32, int8, uint8 or bool (little-endian).`);
    checkShape(dims, input, sink, name, bounds);
    const n = product(dims);
    const body = size - headerStart - headerLen;
    const declared = `${dims.join('×')} ${kind.name} values (${(n * kind.bytes).toLocaleString('en-US')} bytes)`;
    const follow = body.toLocaleString('en-US');
    if (body < n * kind.bytes) throw bad(`is truncated: its header declares ${declared}, but ${follow} bytes follow it.`);
    if (body > n * kind.bytes) throw bad(`holds ${follow} bytes after its header, but the header declares ${declared}.`);
    const data = sink.alloc(n);
    let at = headerStart + headerLen;
    // Same element type: the body's bytes are the tensor's.
    if (kind.same && kind.name === sink.type) {
      const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      for (let off = 0; off < bytes.length; off += CHUNK) at += read(bytes.subarray(off, Math.min(off + CHUNK, bytes.length)), at);
    } else {
      const put = putter(data, sink, input, name, dims, 'npy');
      const chunk = Buffer.alloc(Math.min(CHUNK, n * kind.bytes));
      // One closure for every value's text: it is only called for a message.
      let last: number | bigint = 0;
      const text = () => String(last);
      for (let k = 0; k < n;) {
        const got = read(chunk.subarray(0, Math.min(chunk.length, (n - k) * kind.bytes)), at);
        // The file shrank since its size was checked.
        if (got < kind.bytes) throw bad(`is truncated: its header declares ${declared}, but it ended early.`);
        at += got;
        for (let o = 0; o + kind.bytes <= got; o += kind.bytes, k++) {
          last = kind.read(chunk, o);
          if (typeof last === 'bigint') putBig(data, k, last, put);
          else put(k, last, text);
        }
      }
    }
    return { type: sink.type, data, dims };
  } catch (e) {
    throw fileError(e, file, what);
  } finally {
    closeSync(fd);
  }
}

/** An int64 from a .npy into another type: exact where it fits, refused (with its exact value) where it does not. */
function putBig(data: Target, k: number, v: bigint, put: Put): void {
  if (data instanceof BigInt64Array) { data[k] = v; return; }
  const safe = v >= BigInt(-Number.MAX_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER);
  // An unsafe value is out of every narrower type's range; 2^53 stands for it in the check.
  put(k, safe ? Number(v) : Math.sign(Number(v)) * 2 ** 53, () => v.toString());
}


/**
 * JSON read in two passes over its bytes, without building JavaScript arrays: the first finds the
 * shape and counts the numbers (so the shape is checked before anything is allocated), the second
 * writes each number into the tensor. Each number keeps its literal text, so an integer past 2^53
 * (which JSON.parse would round) is seen for what it is.
 */
class JsonTensor {
  private i = 0;
  private sink: Put | undefined;
  private k = 0;
  /** The last number's text, made only when a message needs it. */
  private from = 0;
  private to = 0;
  private readonly text = () => this.b.toString('latin1', this.from, this.to);

  constructor(private readonly b: Buffer, private readonly name: string) {}

  /** The dims (from "dims", or the nesting of the arrays) and how many numbers the data holds. */
  scan(): { dims: number[]; count: number } {
    this.sink = undefined;
    return this.top();
  }

  fill(sink: Put): void {
    this.sink = sink;
    this.top();
  }

  private top(): { dims: number[]; count: number } {
    this.i = this.b[0] === 0xef && this.b[1] === 0xbb && this.b[2] === 0xbf ? 3 : 0;
    this.k = 0;
    this.ws();
    let out: { dims: number[]; count: number };
    if (this.b[this.i] === 0x5b) {
      const shape: number[] = [];
      const leaf = { depth: -1 };
      this.array(0, shape, leaf);
      out = { dims: leaf.depth < 0 ? shape : shape.slice(0, leaf.depth + 1), count: this.k };
    } else if (this.b[this.i] === 0x7b) {
      out = this.object();
    } else {
      throw new EngineError('bad-file', `${this.name} holds neither a nested array nor {"dims", "data"}.`);
    }
    this.ws();
    if (this.i < this.b.length) this.fail('more after the tensor');
    return out;
  }

  private fail(what: string): never {
    throw new EngineError('bad-file', `${this.name} is not valid JSON (${what} at byte ${this.i}); give {"dims": [...], "data": [...]} or a nested array.`);
  }

  /** Valid JSON, but deeper than any tensor: said as that, not as a syntax error. */
  private tooDeep(what: string): never {
    throw new EngineError('bad-file', `${this.name} nests ${what} over 32 deep (at byte ${this.i}), deeper than any tensor's dimensions; give {"dims": [...], "data": [...]} or a nested array of the tensor's shape.`);
  }

  private ws(): void {
    const b = this.b;
    while (this.i < b.length && (b[this.i] === 0x20 || b[this.i] === 0x0a || b[this.i] === 0x0d || b[this.i] === 0x09)) this.i++;
  }

  /** A nested array: numbers only at one depth, every array at a depth of one length (a regular tensor). */
  private array(depth: number, shape: number[], leaf: { depth: number }): void {
    if (depth > 32) this.tooDeep('arrays');
    this.i++;
    this.ws();
    let n = 0;
    if (this.b[this.i] === 0x5d) this.i++;
    else {
      for (;;) {
        this.ws();
        if (this.b[this.i] === 0x5b) {
          if (leaf.depth >= 0 && depth >= leaf.depth) this.irregular();
          this.array(depth + 1, shape, leaf);
        } else {
          if (leaf.depth < 0) leaf.depth = depth;
          else if (leaf.depth !== depth) this.irregular();
          this.number();
        }
        n++;
        this.ws();
        const c = this.b[this.i++];
        if (c === 0x5d) break;
        if (c !== 0x2c) { this.i--; this.fail('expected "," or "]"'); }
      }
    }
    if (shape[depth] === undefined) shape[depth] = n;
    else if (shape[depth] !== n) this.irregular();
  }

  private irregular(): never {
    throw new EngineError('bad-file', `${this.name} is not a regular nested array (rows of different lengths, or numbers beside arrays, near byte ${this.i}); `
      + 'every row along an axis must have the same length.');
  }

  /** {"dims": [...], "data": [...]}: data nested or flat; other keys are skipped. */
  private object(): { dims: number[]; count: number } {
    let dims: number[] | undefined;
    let data = false;
    this.i++;
    this.ws();
    if (this.b[this.i] === 0x7d) this.i++;
    else {
      for (;;) {
        this.ws();
        const key = this.string();
        this.ws();
        if (this.b[this.i++] !== 0x3a) { this.i--; this.fail('expected ":"'); }
        this.ws();
        if (key === 'dims') dims = this.dims();
        else if (key === 'data') {
          if (data) this.fail('a second "data"');
          data = true;
          if (this.b[this.i] !== 0x5b) this.fail('"data" is not an array');
          this.flat(0);
        } else this.skip(0);
        this.ws();
        const c = this.b[this.i++];
        if (c === 0x7d) break;
        if (c !== 0x2c) { this.i--; this.fail('expected "," or "}"'); }
      }
    }
    if (!dims || !data) throw new EngineError('bad-file', `${this.name} needs "dims" (whole numbers) and "data" (numbers).`);
    return { dims, count: this.k };
  }

  private dims(): number[] {
    const start = this.i;
    const out: number[] = [];
    if (this.b[this.i] !== 0x5b) this.fail('"dims" is not an array');
    this.i++;
    this.ws();
    if (this.b[this.i] === 0x5d) { this.i++; return out; }
    for (;;) {
      this.ws();
      const value = this.literal();
      if (!Number.isSafeInteger(value) || value < 0) {
        this.i = start;
        throw new EngineError('bad-file', `${this.name} needs "dims" (whole numbers) and "data" (numbers).`);
      }
      out.push(value);
      this.ws();
      const c = this.b[this.i++];
      if (c === 0x5d) return out;
      if (c !== 0x2c) { this.i--; this.fail('expected "," or "]"'); }
    }
  }

  /** Every number of an array, at any nesting, in order. */
  private flat(depth: number): void {
    if (depth > 32) this.tooDeep('arrays');
    this.i++;
    this.ws();
    if (this.b[this.i] === 0x5d) { this.i++; return; }
    for (;;) {
      this.ws();
      if (this.b[this.i] === 0x5b) this.flat(depth + 1);
      else this.number();
      this.ws();
      const c = this.b[this.i++];
      if (c === 0x5d) return;
      if (c !== 0x2c) { this.i--; this.fail('expected "," or "]"'); }
    }
  }

  private number(): void {
    this.from = this.i;
    const value = this.literal();
    this.to = this.i;
    if (this.sink) this.sink(this.k, value, this.text);
    this.k++;
  }

  /** One JSON number (RFC 8259 grammar) and its value; anything else is not a number. */
  private literal(): number {
    const b = this.b;
    const start = this.i;
    let i = start;
    if (b[i] === 0x2d) i++;
    const intStart = i;
    while (b[i] >= 0x30 && b[i] <= 0x39) i++;
    const intDigits = i - intStart;
    let ok = intDigits > 0 && !(b[intStart] === 0x30 && intDigits > 1);
    let plain = true;
    if (ok && b[i] === 0x2e) {
      plain = false;
      const from = ++i;
      while (b[i] >= 0x30 && b[i] <= 0x39) i++;
      ok = i > from;
    }
    if (ok && (b[i] === 0x65 || b[i] === 0x45)) {
      plain = false;
      i++;
      if (b[i] === 0x2b || b[i] === 0x2d) i++;
      const from = i;
      while (b[i] >= 0x30 && b[i] <= 0x39) i++;
      ok = i > from;
    }
    if (!ok) {
      const what = `${this.name} holds a value that is not a number at byte ${start}`;
      throw new EngineError('bad-file', `${what}; the data must be numbers (no NaN, Infinity, strings or null).`);
    }
    this.i = i;
    // Short whole numbers (token ids, masks) are read without making a string.
    if (plain && intDigits <= 15) {
      let v = 0;
      for (let p = intStart; p < i; p++) v = v * 10 + (b[p] - 0x30);
      return b[start] === 0x2d ? -v : v;
    }
    return Number(b.toString('latin1', start, i));
  }

  private string(): string {
    const b = this.b;
    if (b[this.i] !== 0x22) this.fail('expected a key');
    const start = ++this.i;
    while (this.i < b.length && b[this.i] !== 0x22) this.i += b[this.i] === 0x5c ? 2 : 1;
    if (this.i >= b.length) this.fail('an unterminated string');
    return b.toString('utf8', start, this.i++);
  }

  /** Any JSON value, skipped (other keys of the object form). */
  private skip(depth: number): void {
    if (depth > 32) this.tooDeep('values');
    const c = this.b[this.i];
    if (c === 0x22) { this.string(); return; }
    if (c === 0x5b || c === 0x7b) {
      const close = c === 0x5b ? 0x5d : 0x7d;
      this.i++;
      this.ws();
      if (this.b[this.i] === close) { this.i++; return; }
      for (;;) {
        this.ws();
        if (close === 0x7d) { this.string(); this.ws(); if (this.b[this.i++] !== 0x3a) { this.i--; this.fail('expected ":"'); } this.ws(); }
        this.skip(depth + 1);
        this.ws();
        const e = this.b[this.i++];
        if (e === close) return;
        if (e !== 0x2c) { this.i--; this.fail('expected ","'); }
      }
    }
    for (const word of ['true', 'false', 'null']) {
      if (this.b.toString('latin1', this.i, this.i + word.length) === word) { this.i += word.length; return; }
    }
    this.literal();
  }
}
