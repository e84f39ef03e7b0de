import { readFileSync } from 'node:fs';

/**
 * The shared libraries a native file loads when it loads, read from its own headers: ELF's
 * DT_NEEDED (Linux), Mach-O's LC_LOAD_DYLIB (macOS, "@rpath/" dropped), PE's import table (Windows;
 * delay-loaded DLLs are left out: they load only when the feature that needs them runs). A package
 * ships the binding and what it loads, transitively, once.
 */
export function loadedLibraries(file: string): string[] {
  const b = readFileSync(file);
  if (b.readUInt32BE(0) === 0x7f454c46) return elfNeeded(b);
  if (b.readUInt32LE(0) === 0xfeedfacf) return machoDylibs(b);
  if (b.toString('latin1', 0, 2) === 'MZ') return peImports(b);
  throw new Error(`${file} is not an ELF, 64-bit Mach-O or PE file`);
}

function elfNeeded(b: Buffer): string[] {
  if (b[4] !== 2 || b[5] !== 1) throw new Error('only 64-bit little-endian ELF is read');
  const shoff = Number(b.readBigUInt64LE(0x28));
  const shentsize = b.readUInt16LE(0x3a);
  const shnum = b.readUInt16LE(0x3c);
  const sections = Array.from({ length: shnum }, (_, i) => {
    const o = shoff + i * shentsize;
    const [offset, size] = [Number(b.readBigUInt64LE(o + 0x18)), Number(b.readBigUInt64LE(o + 0x20))];
    return { type: b.readUInt32LE(o + 4), offset, size, link: b.readUInt32LE(o + 0x28) };
  });
  const SHT_DYNAMIC = 6;
  const DT_NEEDED = 1n;
  const out: string[] = [];
  for (const s of sections.filter((x) => x.type === SHT_DYNAMIC)) {
    const strtab = sections[s.link];
    for (let o = s.offset; o + 16 <= s.offset + s.size; o += 16) {
      const tag = b.readBigInt64LE(o);
      if (tag === 0n) break;
      if (tag === DT_NEEDED) out.push(cString(b, strtab.offset + Number(b.readBigUInt64LE(o + 8))));
    }
  }
  return out;
}

function machoDylibs(b: Buffer): string[] {
  const LC_LOAD_DYLIB = 0xc;
  const LC_LOAD_WEAK_DYLIB = 0x80000018;
  const LC_REEXPORT_DYLIB = 0x8000001f;
  const ncmds = b.readUInt32LE(16);
  const out: string[] = [];
  for (let i = 0, o = 32; i < ncmds; i++) {
    const cmd = b.readUInt32LE(o);
    const size = b.readUInt32LE(o + 4);
    if (cmd === LC_LOAD_DYLIB || cmd === LC_LOAD_WEAK_DYLIB || cmd === LC_REEXPORT_DYLIB) out.push(cString(b, o + b.readUInt32LE(o + 8)).replace(/^@(rpath|loader_path)\//, ''));
    o += size;
  }
  return out;
}

function peImports(b: Buffer): string[] {
  const pe = b.readUInt32LE(0x3c);
  if (b.readUInt32LE(pe) !== 0x4550) throw new Error('no PE signature');
  const sectionCount = b.readUInt16LE(pe + 6);
  const optionalSize = b.readUInt16LE(pe + 20);
  const opt = pe + 24;
  const pe32plus = b.readUInt16LE(opt) === 0x20b;
  const dataDirs = opt + (pe32plus ? 112 : 96);
  const importRva = b.readUInt32LE(dataDirs + 8);
  const sectionTable = opt + optionalSize;
  const sections = Array.from({ length: sectionCount }, (_, i) => {
    const o = sectionTable + i * 40;
    return { va: b.readUInt32LE(o + 12), size: Math.max(b.readUInt32LE(o + 8), b.readUInt32LE(o + 16)), raw: b.readUInt32LE(o + 20) };
  });
  const offset = (rva: number) => {
    const s = sections.find((x) => rva >= x.va && rva < x.va + x.size);
    if (!s) throw new Error(`RVA ${rva} is in no section`);
    return rva - s.va + s.raw;
  };
  const out: string[] = [];
  if (!importRva) return out;
  // IMAGE_IMPORT_DESCRIPTOR: 20 bytes, the DLL's name RVA at +12; a zeroed one ends the table.
  for (let o = offset(importRva); b.readUInt32LE(o + 12) !== 0; o += 20) out.push(cString(b, offset(b.readUInt32LE(o + 12))));
  return out;
}

function cString(b: Buffer, at: number): string {
  const end = b.indexOf(0, at);
  return b.toString('latin1', at, end < 0 ? b.length : end);
}
