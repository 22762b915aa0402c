import type { BenchContext } from './context.js';
import type { Figure } from './report.js';

export async function benchEsl(_ctx: BenchContext): Promise<Figure[]> {
  throw new Error('the call ledger (issue 4, daemon/calls/) is not in the tree yet');
}
