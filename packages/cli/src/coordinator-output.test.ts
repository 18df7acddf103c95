import { describe, expect, it } from 'vitest';
import { formatRoundLine, resolveLogMode } from './coordinator-output.js';

describe('flock coordinator terminal output', () => {
  it('--log auto is human on a TTY and JSON otherwise; a wrong mode is a RangeError', () => {
    expect(resolveLogMode('auto', true)).toBe('human');
    expect(resolveLogMode('auto', false)).toBe('json');
    expect(resolveLogMode('json', true)).toBe('json');
    expect(resolveLogMode('human', false)).toBe('human');
    expect(() => resolveLogMode('loud' as never, true)).toThrow(RangeError);
  });

  it('prints one line per round with progress, accuracy and loss', () => {
    const base = { round: 3, kind: 'train' as const, status: 'committed' as const, modelVersion: 3, selected: ['a', 'b', 'c'], reporters: ['a', 'b'], seconds: 4.25 };
    expect(formatRoundLine({ ...base, metrics: { train_accuracy: 0.8123, train_loss: 0.521 } })).toBe('round 3 train committed -> v3 | 2/3 reported | accuracy 0.8123 loss 0.5210 | 4.3s');
    expect(formatRoundLine({ ...base, kind: 'evaluate', status: 'completed', metrics: { eval_accuracy: 0.7 } })).toBe('round 3 evaluate completed | 2/3 reported | accuracy 0.7000 | 4.3s');
    expect(formatRoundLine({ ...base, status: 'abandoned', reporters: [], metrics: {}, reason: { code: 'TOO_FEW_REPORTS', message: 'too few' } })).toBe('round 3 train abandoned | 0/3 reported | 4.3s | TOO_FEW_REPORTS: too few');
  });
});
