// An embedder that calls one of the gateway's own embedding aliases (e.g. text-embedding-3-small)
// through the provider layer, with the alias's routing, retries and fallbacks. The gateway makes
// the call itself (as the master principal, under the global limits only): it is not billed to
// the caller's budget and writes no ledger row of its own. The vector comes back unit length.

import type { IncomingMessage } from 'node:http';
import { readJsonResponse } from '../pipeline/dispatch.ts';
import { createRequestContext, type ClientWatch } from '../pipeline/request-context.ts';
import type { ReliableCall } from '../routing/reliable-call.ts';
import { GatewayError } from '../errors/gateway-error.ts';
import type { Embedder } from './cache-store.ts';

const NEVER_GONE: ClientWatch = { onGone: () => () => undefined };
const NO_HEADERS = { headers: {} } as IncomingMessage;
const MAX_BODY = 16 * 1024 * 1024;

function unit(values: readonly number[]): Float32Array {
  const vector = Float32Array.from(values);
  let norm = 0;
  for (const v of vector) norm += v * v;
  norm = Math.sqrt(norm);
  if (norm > 0) for (let i = 0; i < vector.length; i++) vector[i]! /= norm;
  return vector;
}

export class AliasEmbedder implements Embedder {
  readonly id: string;
  readonly alias: string;
  #dims = 0;
  #call: ReliableCall | undefined;

  constructor(alias: string) {
    this.alias = alias;
    this.id = `alias:${alias}`;
  }

  /** 0 until the first vector came back. */
  get dims(): number {
    return this.#dims;
  }

  /** The app hands over its reliable call once it has built one. */
  attach(call: ReliableCall): void {
    this.#call = call;
  }

  async embed(text: string): Promise<Float32Array> {
    const call = this.#call;
    if (!call) throw new Error(`embedding alias ${this.alias} is not attached to the gateway yet`);
    const ctx = createRequestContext({}, performance.now(), NEVER_GONE);
    ctx.principal = { kind: 'master' };
    let vector: Float32Array | undefined;
    await call(ctx, NO_HEADERS, {
      model: this.alias,
      stream: false,
      demand: () => ({ inputTokens: Math.ceil(text.length / 4), maxOutputTokens: 0 }),
      prepare: ({ dep, adapter }) => {
        if (!adapter.embeddings) throw new GatewayError('endpoint_not_supported', `cache.semantic.embedder ${this.alias} routes to ${dep.provider}, which has no embeddings endpoint.`);
        return adapter.embeddings.toRequest({ model: this.alias, input: text }, dep);
      },
      deliver: async (upstream, { dep, adapter }) => {
        const { json } = await readJsonResponse(upstream, MAX_BODY);
        const response = adapter.embeddings!.fromResponse(json, dep) as { data?: { embedding?: unknown }[] };
        const embedding = response.data?.[0]?.embedding;
        if (!Array.isArray(embedding) || embedding.length === 0 || !embedding.every((n) => typeof n === 'number')) {
          throw new GatewayError('upstream_invalid_response', `Deployment ${dep.id} returned no float embedding.`, { deployment: dep.id, failureClass: 'server_error' });
        }
        vector = unit(embedding);
        return {};
      },
    });
    if (!vector) throw new Error(`embedding alias ${this.alias} returned nothing`);
    this.#dims = vector.length;
    return vector;
  }
}
