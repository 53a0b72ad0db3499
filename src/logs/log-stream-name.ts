/** Log stream names: one stream per execution environment, named as Lambda names them (LAMBDA_REFERENCE.md §4.1). */
import { randomBytes } from 'node:crypto';

/** `YYYY/MM/DD/[<version>]<32 lowercase hex>`, e.g. `2019/06/07/[$LATEST]e6f4a0c4241adcd70c262d34c0bbc85c`; UTC date. */
export function newLogStreamName(version: string, now: Date): string {
  const yyyy = String(now.getUTCFullYear()).padStart(4, '0');
  const mm = String(now.getUTCMonth() + 1).padStart(2, '0');
  const dd = String(now.getUTCDate()).padStart(2, '0');
  return `${yyyy}/${mm}/${dd}/[${version}]${randomBytes(16).toString('hex')}`;
}
