// Issue #12 item 1 at full size: 1000 clipped updates of d = 1e6 coordinates, quantized as a
// cohort of n = 1000 would be, every norm within the bound the noise and the accountant use.
// (test/dp-secagg.test.ts runs the same check on 8 updates in the default suite.)
import { describe, expect, it } from 'vitest';
import { checkEnforcedBound } from './dp-quantize-check.js';

describe('DP quantization at d = 1e6, n = 1000 (slow)', () => {
  it('1000 quantized clipped updates: every norm <= Delta2, the accountant\'s sensitivity', async () => {
    const { plan, maxRatio } = await checkEnforcedBound(1_000_000, 1000, 1000);
    expect(maxRatio).toBeLessThanOrEqual(plan.inflation);
  }, 1_800_000);
});
