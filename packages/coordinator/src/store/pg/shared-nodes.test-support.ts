// Two store instances on one fresh PostgreSQL schema, with their models open: two fleet nodes
// sharing a database, for the tests of what the shared store guarantees between nodes.
import type { FlatModel } from '@flock/model';
import { BACKENDS, type Place } from '../backends.test-support.js';
import type { PgFederationStore } from './database.js';

export const pgBackend = BACKENDS.find((b) => b.name === 'postgres')!;

export async function twoPgNodes(init: { federationId: string; config: Record<string, unknown>; model: FlatModel }): Promise<{ place: Place; a: PgFederationStore; b: PgFederationStore }> {
  const place = await pgBackend.place();
  const a = (await place.open()) as PgFederationStore;
  const b = (await place.open()) as PgFederationStore;
  await a.openModels(init);
  await b.openModels(init);
  return { place, a, b };
}
