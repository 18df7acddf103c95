import { z } from 'zod';
import { authChallengeSchema, modelInfoSchema, PROTOCOL_VERSION } from '@flock/protocol';
import { mintTokenBodySchema, promoteBodySchema, rollbackBodySchema, settingsPatchSchema } from '../admin/admin-api.js';
import { predictRequestSchema, predictResponseSchema } from '../serving/inputs.js';
import {
  adminRoundsBodySchema,
  adminStatusSchema,
  clientSchema,
  errorBodySchema,
  mintedTokenSchema,
  modelJsonSchema,
  roundsBodySchema,
  servingChangeSchema,
  servingStatusSchema,
  settingsBodySchema,
  statusSchema,
  tokenSchema,
} from './schemas.js';

// GET /v1/openapi.json: an OpenAPI 3.1 document of every HTTP endpoint, generated from the zod
// schemas the handlers validate with (z.toJSONSchema), so it cannot drift from them.

type Auth = 'none' | 'operator' | 'models';
type Body = { json: z.core.$ZodType } | { binary: string } | { text: string };

interface Operation {
  method: 'get' | 'post' | 'patch';
  path: string;
  summary: string;
  tag: string;
  auth: Auth;
  request?: Body;
  responses: Record<number, { description: string } & Partial<Body>>;
}

const err = (description: string) => ({ description, json: errorBodySchema });
const E401 = { 401: err('UNAUTHORIZED: missing or wrong bearer token') };

const OPERATIONS: Operation[] = [
  { method: 'get', path: '/v1/health', summary: 'Coordinator status', tag: 'status', auth: 'none', responses: { 200: { description: 'status (under differential privacy without the active round\'s counts)', json: statusSchema } } },
  { method: 'get', path: '/v1/rounds', summary: 'The last 100 rounds', tag: 'status', auth: 'models', responses: { 200: { description: 'round summaries', json: roundsBodySchema }, ...E401 } },
  { method: 'get', path: '/v1/models/{version}', summary: 'Model version metadata (version: a number, latest or serving)', tag: 'models', auth: 'models', responses: { 200: { description: 'ModelInfo', json: modelInfoSchema }, 404: err('MODEL_NOT_FOUND'), ...E401 } },
  { method: 'get', path: '/v1/models/{version}/model.json', summary: 'TensorFlow.js layers-model document', tag: 'models', auth: 'models', responses: { 200: { description: 'model.json', json: modelJsonSchema }, 404: err('MODEL_NOT_FOUND'), ...E401 } },
  { method: 'get', path: '/v1/models/{version}/weights.bin', summary: 'Weights: little-endian float32 in manifest order', tag: 'models', auth: 'models', responses: { 200: { description: 'weights', binary: 'application/octet-stream' }, 404: err('MODEL_NOT_FOUND'), ...E401 } },
  {
    method: 'post',
    path: '/v1/models/{version}:predict',
    summary: "Inference in TensorFlow Serving's REST shape (version: a number, latest or serving); or a float32 body with x-flock-shape",
    tag: 'inference',
    auth: 'models',
    request: { json: predictRequestSchema },
    responses: {
      200: { description: 'predictions, one per instance (binary float32 when the request was binary and accepts application/octet-stream)', json: predictResponseSchema },
      400: err('WRONG_SHAPE (details.expectedShape), NON_FINITE or BAD_MESSAGE'),
      404: err('MODEL_NOT_FOUND'),
      413: err('PAYLOAD_TOO_LARGE: too many instances or too large a body'),
      415: err('BAD_MESSAGE: content-type is not application/json or application/octet-stream'),
      429: err('RATE_LIMITED'),
      ...E401,
    },
  },
  { method: 'post', path: '/v1/auth/challenge', summary: 'A single-use handshake nonce', tag: 'auth', auth: 'none', responses: { 200: { description: 'challenge', json: authChallengeSchema }, 429: err('RATE_LIMITED') } },
  { method: 'get', path: '/v1/openapi.json', summary: 'This document', tag: 'status', auth: 'none', responses: { 200: { description: 'OpenAPI 3.1', json: z.looseObject({ openapi: z.string(), paths: z.record(z.string(), z.unknown()) }) } } },
  { method: 'get', path: '/metrics', summary: 'Prometheus metrics (operator token unless --public-metrics)', tag: 'monitoring', auth: 'operator', responses: { 200: { description: 'Prometheus text format 0.0.4', text: 'text/plain' }, ...E401 } },
  { method: 'get', path: '/dashboard', summary: 'Operator dashboard (HTML; logs in with the operator token over the /operator socket.io namespace)', tag: 'monitoring', auth: 'none', responses: { 200: { description: 'the dashboard page', text: 'text/html' } } },
  { method: 'get', path: '/v1/admin/status', summary: 'Status with auth mode, pause state and run-time settings', tag: 'admin', auth: 'operator', responses: { 200: { description: 'status', json: adminStatusSchema }, ...E401 } },
  { method: 'get', path: '/v1/admin/rounds', summary: 'Full round summaries (with cohorts)', tag: 'admin', auth: 'operator', responses: { 200: { description: 'rounds', json: adminRoundsBodySchema }, ...E401 } },
  { method: 'get', path: '/v1/admin/clients', summary: 'Enrolled and connected clients', tag: 'admin', auth: 'operator', responses: { 200: { description: 'clients', json: z.object({ clients: z.array(clientSchema) }) }, ...E401 } },
  { method: 'post', path: '/v1/admin/clients/{clientId}/revoke', summary: 'Revoke a client identity', tag: 'admin', auth: 'operator', responses: { 200: { description: 'revoked', json: z.object({ clientId: z.string(), revoked: z.literal(true), changed: z.boolean(), disconnected: z.boolean() }) }, 404: err('NOT_FOUND'), ...E401 } },
  { method: 'get', path: '/v1/admin/tokens', summary: 'Enrollment tokens (no secrets)', tag: 'admin', auth: 'operator', responses: { 200: { description: 'tokens', json: z.object({ tokens: z.array(tokenSchema) }) }, ...E401 } },
  { method: 'post', path: '/v1/admin/tokens', summary: 'Mint an enrollment token', tag: 'admin', auth: 'operator', request: { json: mintTokenBodySchema }, responses: { 201: { description: 'the token, shown once', json: mintedTokenSchema }, 400: err('BAD_MESSAGE'), ...E401 } },
  { method: 'post', path: '/v1/admin/tokens/{tokenId}/revoke', summary: 'Revoke an enrollment token', tag: 'admin', auth: 'operator', responses: { 200: { description: 'revoked', json: z.object({ id: z.string(), revoked: z.literal(true), changed: z.boolean(), clientId: z.string().nullable(), disconnected: z.boolean() }) }, 404: err('NOT_FOUND'), ...E401 } },
  { method: 'post', path: '/v1/admin/rounds/stop', summary: 'Stop starting rounds', tag: 'admin', auth: 'operator', responses: { 200: { description: 'paused', json: z.object({ roundsPaused: z.literal(true) }) }, ...E401 } },
  { method: 'post', path: '/v1/admin/rounds/start', summary: 'Start rounds again', tag: 'admin', auth: 'operator', responses: { 200: { description: 'running', json: z.object({ roundsPaused: z.literal(false) }) }, ...E401 } },
  { method: 'patch', path: '/v1/admin/settings', summary: 'Change rounds, fraction or the round timeout', tag: 'admin', auth: 'operator', request: { json: settingsPatchSchema }, responses: { 200: { description: 'settings now', json: settingsBodySchema }, 400: err('BAD_MESSAGE'), ...E401 } },
  { method: 'get', path: '/v1/admin/serving', summary: 'Serving version, policy, rollback stack and recent changes', tag: 'serving', auth: 'operator', responses: { 200: { description: 'serving status', json: servingStatusSchema }, ...E401 } },
  { method: 'post', path: '/v1/admin/serving/promote', summary: 'Serve model version N', tag: 'serving', auth: 'operator', request: { json: promoteBodySchema }, responses: { 200: { description: 'the change', json: servingChangeSchema }, 400: err('BAD_MESSAGE'), 404: err('MODEL_NOT_FOUND'), ...E401 } },
  { method: 'post', path: '/v1/admin/serving/rollback', summary: 'Serve the previous serving version again', tag: 'serving', auth: 'operator', request: { json: rollbackBodySchema }, responses: { 200: { description: 'the change', json: servingChangeSchema }, 404: err('NOT_FOUND: nothing to roll back to'), ...E401 } },
];

function jsonSchema(schema: z.core.$ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const s = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Record<string, unknown>;
  delete s.$schema;
  return s;
}

function content(b: Partial<Body>, io: 'input' | 'output'): Record<string, unknown> | undefined {
  if ('json' in b && b.json) return { 'application/json': { schema: jsonSchema(b.json, io) } };
  if ('binary' in b && b.binary) return { [b.binary]: { schema: { type: 'string', contentMediaType: b.binary } } };
  if ('text' in b && b.text) return { [b.text]: { schema: { type: 'string' } } };
  return undefined;
}

let cached: Record<string, unknown> | undefined;

/** The OpenAPI 3.1 document (built once per process). */
export function openApiDocument(): Record<string, unknown> {
  if (cached) return cached;
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    const params = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    const responses = Object.fromEntries(
      Object.entries(op.responses).map(([status, r]) => {
        const c = content(r, 'output');
        return [status, { description: r.description, ...(c ? { content: c } : {}) }];
      }),
    );
    const request = op.request ? content(op.request, 'input') : undefined;
    if (op.path.endsWith(':predict') && request) request['application/octet-stream'] = { schema: { type: 'string', contentMediaType: 'application/octet-stream', description: 'little-endian float32, row-major; shape in the x-flock-shape header or ?shape= (batch first)' } };
    (paths[op.path] ??= {})[op.method] = {
      summary: op.summary,
      tags: [op.tag],
      ...(params.length ? { parameters: params } : {}),
      ...(op.auth === 'operator' ? { security: [{ operatorToken: [] }] } : op.auth === 'models' ? { security: [{}, { operatorToken: [] }, { sessionToken: [] }] } : {}),
      ...(request ? { requestBody: { required: !op.path.startsWith('/v1/admin/serving/rollback'), content: request } } : {}),
      responses,
    };
  }
  cached = {
    openapi: '3.1.0',
    info: { title: 'Flock coordinator HTTP API', version: String(PROTOCOL_VERSION), description: 'docs/reference/http-api.md. Model endpoints need a token only with --private-models.' },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    components: {
      securitySchemes: {
        operatorToken: { type: 'http', scheme: 'bearer', description: 'the operator token (--operator-token-file)' },
        sessionToken: { type: 'http', scheme: 'bearer', description: "a live client session's accessToken (federation:welcome)" },
      },
    },
    paths,
  };
  return cached;
}

/** The (method, path template) pairs the document describes, for tests. */
export function documentedOperations(): Array<{ method: string; path: string }> {
  return OPERATIONS.map((o) => ({ method: o.method, path: o.path }));
}
