/** The hash class @smithy/signature-v4 asks for, backed by node:crypto: tests sign requests as the JS SDK does. */
import { createHash, createHmac, type BinaryLike } from 'node:crypto';

type Source = string | ArrayBuffer | ArrayBufferView;
const toBinary = (d: Source): BinaryLike =>
  typeof d === 'string' ? d : ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : new Uint8Array(d);

export class Sha256 {
  private readonly hash;
  constructor(secret?: Source) {
    this.hash = secret ? createHmac('sha256', toBinary(secret)) : createHash('sha256');
  }
  update(data: Source): void {
    this.hash.update(toBinary(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}
