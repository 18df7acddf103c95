// What a client downloads from the coordinator's HTTP API: a round's global weights (checked
// against the announced hash, cached per version) and the model topology (model.json).
import * as tf from '@tensorflow/tfjs';
import { FlockError, decodeFloat32, hashModelAsync, specSize, type ModelSpec, type RoundStart } from '@flock/protocol';
import type { ClientPlatform } from './platform.js';

export class ModelFetcher {
  private cached: { version: number; hash: string; weights: Float32Array } | undefined;
  private topology: Record<string, unknown> | undefined;

  /** `accessToken`: the session's bearer token, sent when present (private model endpoints). */
  constructor(
    private readonly platform: ClientPlatform,
    private readonly base: () => string,
    private readonly accessToken: () => string | undefined,
  ) {}

  /** GET on the coordinator's HTTP API; a network failure (in browsers also a CORS refusal) is UNREACHABLE. */
  private async get(path: string): ReturnType<ClientPlatform['fetch']> {
    const token = this.accessToken();
    try {
      return await this.platform.fetch(`${this.base()}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : undefined);
    } catch (err) {
      throw new FlockError('UNREACHABLE', `GET ${path} failed: ${err instanceof Error ? err.message : String(err)} (a network error; in a browser also a CORS refusal: see the coordinator's corsOrigins)`, { url: `${this.base()}${path}` });
    }
  }

  /** A model built from the coordinator's model.json (its topology is fetched once). */
  async build(): Promise<tf.LayersModel> {
    if (!this.topology) {
      const res = await this.get('/v1/models/latest/model.json');
      if (!res.ok) throw new FlockError('MODEL_NOT_FOUND', `GET model.json failed with HTTP ${res.status}`);
      this.topology = (JSON.parse(await res.text()) as { modelTopology: Record<string, unknown> }).modelTopology;
    }
    return await tf.models.modelFromJSON({ modelTopology: this.topology } as tf.io.ModelJSON);
  }

  /** The round's model weights (cached per version and hash), checked against round:start.modelHash. */
  async weights(start: RoundStart, spec: ModelSpec | undefined): Promise<Float32Array> {
    if (this.cached && this.cached.version === start.modelVersion && this.cached.hash === start.modelHash) return this.cached.weights;
    if (!spec) throw new FlockError('BAD_MESSAGE', 'round started before the welcome message');
    const res = await this.get(`${start.modelPath}/weights.bin`);
    if (!res.ok) throw new FlockError('MODEL_NOT_FOUND', `GET ${start.modelPath}/weights.bin failed with HTTP ${res.status}`);
    const weights = decodeFloat32(new Uint8Array(await res.arrayBuffer()), specSize(spec));
    if ((await hashModelAsync(spec, weights)) !== start.modelHash) {
      throw new FlockError('MODEL_HASH_MISMATCH', `weights of version ${start.modelVersion} do not hash to the announced ${start.modelHash.slice(0, 12)}...`);
    }
    this.cached = { version: start.modelVersion, hash: start.modelHash, weights };
    return weights;
  }
}
