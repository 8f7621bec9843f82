import { describe, expect, it } from '@jest/globals';
import { Deadlines } from '../src/internal/deadlines.js';

describe('Deadlines', () => {
  it('fires an entry once its time has passed, and not a cleared one', async () => {
    const deadlines = new Deadlines(2);
    const fired: string[] = [];
    deadlines.add(Date.now() + 10, () => fired.push('due'));
    const cleared = deadlines.add(Date.now() + 10, () => fired.push('cleared'));
    deadlines.clear(cleared);
    const started = Date.now();
    while (fired.length === 0 && Date.now() - started < 1_000) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(fired).toEqual(['due']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(9);
  });

  it('keeps memory bounded when entries are cleared without any tick', () => {
    const deadlines = new Deadlines(1_000);
    const live = deadlines.add(Date.now() + 60_000, () => {});
    for (let i = 0; i < 200_000; i++) deadlines.clear(deadlines.add(Date.now() + 60_000, () => {}));
    expect(deadlines.stored).toBeLessThanOrEqual(1_025);
    deadlines.clear(live);
  });
});
