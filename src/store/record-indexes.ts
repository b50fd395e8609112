/**
 * The walk over every record: both record indexes (instances, then deployments), a page of
 * a script at a time (each pages with lua/record.ts's `lex_page`), until the script answers
 * no next cursor.
 */
import type { Keys } from './keys.js';

/**
 * Runs `page` from the start of each record index, then from each cursor it answers, until
 * it answers ''; returns the sum of the counts it answered.
 */
export async function walkRecordIndexes(keys: Keys, page: (index: string, kind: 'i' | 'd', cursor: string) => Promise<[string, number]>): Promise<number> {
  let total = 0;
  for (const [kind, index] of [['i', keys.allInstances], ['d', keys.allDeployments]] as const) {
    let cursor = '';
    do {
      const [next, counted] = await page(index, kind, cursor);
      total += counted;
      cursor = next;
    } while (cursor !== '');
  }
  return total;
}
