/**
 * Zips for tests, built in memory. buildZip uses yazl (what our CLI uses), so modes and symlinks are stored
 * as real tools store them. buildRawZip writes the bytes by hand for the hostile archives yazl refuses to
 * make: '../' and absolute names, backslashes, NUL, and headers that lie about sizes.
 */
import { deflateRawSync } from 'node:zlib';
import * as zlib from 'node:zlib';
import yazl from 'yazl';

export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;

export type ZipEntrySpec =
  | { name: string; data: string | Buffer; mode?: number; compress?: boolean }
  | { name: string; directory: true; mode?: number }
  | { name: string; symlinkTo: string };

/** mode is the permission part (e.g. 0o755); the file type is added from the kind of entry. */
export async function buildZip(entries: readonly ZipEntrySpec[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const spec of entries) {
    if ('directory' in spec) {
      zip.addEmptyDirectory(spec.name, spec.mode === undefined ? {} : { mode: S_IFDIR | spec.mode });
    } else if ('symlinkTo' in spec) {
      zip.addBuffer(Buffer.from(spec.symlinkTo), spec.name, { mode: S_IFLNK | 0o777, compress: false });
    } else {
      const data = typeof spec.data === 'string' ? Buffer.from(spec.data) : spec.data;
      zip.addBuffer(data, spec.name, {
        ...(spec.mode === undefined ? {} : { mode: S_IFREG | spec.mode }),
        compress: spec.compress ?? true,
      });
    }
  }
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

export interface RawZipEntry {
  /** Written byte for byte: nothing is validated. */
  name: string | Buffer;
  data?: Buffer;
  /** Full st_mode (type and permissions) for the upper external attributes; 0 records no unix mode. */
  unixMode?: number;
  /** Deflate the data (method 8) instead of storing it (method 0). */
  deflate?: boolean;
  /** Lie about the uncompressed size in both headers. */
  declaredUncompressedSize?: number;
}

/** One-disk zip without data descriptors: local headers, central directory, end record. */
export function buildRawZip(entries: readonly RawZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = typeof entry.name === 'string' ? Buffer.from(entry.name, 'utf8') : entry.name;
    const data = entry.data ?? Buffer.alloc(0);
    const stored = entry.deflate ? deflateRawSync(data) : data;
    const method = entry.deflate ? 8 : 0;
    const crc = crc32(data);
    const uncompressed = entry.declaredUncompressedSize ?? data.length;
    const flags = 0x0800; // names are UTF-8

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(0, 10); // time
    local.writeUInt16LE(0x21, 12); // date: 1980-01-01
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(stored.length, 18);
    local.writeUInt32LE(uncompressed, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28); // extra length
    locals.push(local, name, stored);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by: unix
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(0x21, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(stored.length, 20);
    central.writeUInt32LE(uncompressed, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(0, 30); // extra
    central.writeUInt16LE(0, 32); // comment
    central.writeUInt16LE(0, 34); // disk
    central.writeUInt16LE(0, 36); // internal attributes
    central.writeUInt32LE(((entry.unixMode ?? 0) << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);

    offset += local.length + name.length + stored.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** node:zlib has crc32 from Node 20.15; the table is for anything older. */
function crc32(data: Buffer): number {
  const native = (zlib as { crc32?: (data: Buffer) => number }).crc32;
  if (native) return native(data);
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
