import { describe, expect, it } from 'vitest';
import { createThresholdState, eventWeight } from './windows.ts';

describe('threshold windows', () => {
  it('counts an aggregated event (data.count) as that many occurrences', () => {
    expect(eventWeight({ data: { count: 250 } })).toBe(250);
    expect(eventWeight({ data: { count: 'many' } })).toBe(1);
    expect(eventWeight({ data: {} })).toBe(1);
    const state = createThresholdState({ count: 300, window: '1h' } as never);
    expect(state.add('key_a', 1_000, 'evt_1', { data: { count: 250 } })).toBeUndefined();
    const hit = state.add('key_a', 2_000, 'evt_2', { data: { count: 60 } });
    expect(hit).toEqual({ count: 310, eventIds: ['evt_1', 'evt_2'] });
  });

  it('drops aggregated weight that slides out of the window', () => {
    const state = createThresholdState({ count: 300, window: '1m' } as never);
    state.add('key_b', 0, 'evt_1', { data: { count: 250 } });
    expect(state.add('key_b', 61_000, 'evt_2', { data: { count: 60 } })).toBeUndefined();
  });
});
