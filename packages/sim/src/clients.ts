/** Simulated client ids sort in index order, so id-ordered aggregation is index-ordered. */
export function clientIdOf(index: number): string {
  return `client-${String(index).padStart(5, '0')}`;
}

/** Per-client shuffling seed derived from the simulation seed. */
export function clientSeedOf(seed: number, index: number): number {
  return (seed * 7919 + index) % 2_147_483_647;
}
