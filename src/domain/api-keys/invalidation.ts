import type { InvalidationBus } from '../shared/invalidation.ts';

/** Evicts an API key (by its keyed hash) from every node's verification cache. */
export type KeyInvalidationBus = InvalidationBus;
