import type { ErrorCode } from '../../errors/codes.ts';
import type {
  ChatChunk, ChatCompletion, ChatRequest, Deployment, EmbeddingsRequest, EmbeddingsResponse,
  ProviderAdapter, StreamReducer, StreamStep, UpstreamFailure, UpstreamRequest, UpstreamResponse,
} from '../types.ts';
import { GatewayError } from '../../errors/gateway-error.ts';
import { apiBaseProblem, parseApiBase } from './api-base.ts';
import { spliceModel } from './model-splice.ts';
import { bodyFailure, codeForStatus, failure, providerMessage } from './upstream-errors.ts';
import { usageFromOpenAI } from './usage.ts';

/** What differs between OpenAI-compatible providers; everything else is shared. */
export interface OpenAICompatibleQuirks {
  name: string;
  /** gen_ai.provider.name in traces, where the OpenTelemetry GenAI conventions name the provider. */
  genAiProviderName?: string;
  defaultApiBase?: string;
  /** Local servers (vLLM, Ollama) usually run without a key. */
  requiresApiKey?: boolean;
  /** Top-level params this provider rejects (everything else is forwarded). */
  unsupportedParams?: readonly string[];
  /** Params the provider accepts only at one value (e.g. Groq's n = 1). */
  onlyValues?: Readonly<Record<string, unknown>>;
  /** Whether the provider serves /embeddings. */
  embeddings?: boolean;
  /** Where a request goes; defaults to `{api_base}/{endpoint}`. */
  endpointPath?(dep: Deployment, endpoint: 'chat/completions' | 'embeddings'): string;
  /** Auth headers; defaults to `Authorization: Bearer <api_key>`. */
  authHeaders?(dep: Deployment): Record<string, string>;
  /** Whether the body carries `model` (Azure puts the deployment in the path instead). */
  modelInBody?: boolean;
  validate?(dep: Deployment): string[];
}

function bearer(dep: Deployment): Record<string, string> {
  return dep.apiKey ? { authorization: `Bearer ${dep.apiKey}` } : {};
}

function invalid(dep: Deployment, what: string): GatewayError {
  return new GatewayError('upstream_invalid_response', `Deployment ${dep.id} returned ${what}.`, { deployment: dep.id, failureClass: 'server_error' });
}

/** OpenAI's own classification on top of the shared status mapping. */
export function mapOpenAIError(status: number, bodyText: string, headers: UpstreamResponse['headers']): UpstreamFailure {
  let errorCode: unknown;
  try {
    errorCode = JSON.parse(bodyText)?.error?.code;
  } catch {
    errorCode = undefined;
  }
  const message = providerMessage(bodyText, (json) => json?.error?.message ?? json?.message ?? json?.error);
  let code = codeForStatus(status);
  if (code === 'upstream_bad_request') {
    if (errorCode === 'context_length_exceeded' || /maximum context length|context length|context window/i.test(message)) {
      code = 'context_length_exceeded';
    } else if (errorCode === 'content_policy_violation' || errorCode === 'content_filter') {
      code = 'content_policy_violation';
    }
  }
  return failure(code, message, headers);
}

/** An error object sent mid-stream: its code or type says what it is (no status comes with it). */
function streamErrorCode(error: { code?: unknown; type?: unknown }): ErrorCode {
  const code = error.code ?? error.type;
  if (code === 'context_length_exceeded') return 'context_length_exceeded';
  if (code === 'content_policy_violation' || code === 'content_filter') return 'content_policy_violation';
  if (code === 'rate_limit_exceeded' || code === 'rate_limit_error') return 'upstream_rate_limited';
  return 'upstream_error';
}

/** A non-null usage object, however the provider spaces its JSON. */
const USAGE_OBJECT = /"usage"\s*:\s*\{/;

/** Generated text in a chunk: content, reasoning and tool-call arguments (escapes counted as written). */
const OUTPUT_TEXT = /"(?:content|reasoning_content|arguments)":"((?:[^"\\]|\\.)*)"/g;

function outputChars(data: string): number {
  let chars = 0;
  for (const match of data.matchAll(OUTPUT_TEXT)) chars += match[1]!.length;
  return chars;
}

/**
 * The OpenAI wire reducer. Events pass through verbatim, so it parses only the events that
 * can carry usage or an error (the final usage chunk, error payloads), not every token.
 */
export const openAIStreamReducer: StreamReducer<{ done: boolean }> = {
  init: () => ({ done: false }),
  step(state, event): StreamStep<{ done: boolean }> {
    if (state.done) return { state, out: [] };
    if (event.data === '[DONE]') return { state: { done: true }, out: [], done: true };
    const data = event.data;
    if (!USAGE_OBJECT.test(data) && !data.includes('"error"')) return { state, out: [], outputChars: outputChars(data) };
    let chunk: ChatChunk & { error?: { message?: string; code?: string } };
    try {
      chunk = JSON.parse(data);
    } catch {
      return { state, out: [], error: bodyFailure('upstream_invalid_response', 'stream event is not JSON') };
    }
    if (chunk.error) {
      return { state, out: [], error: bodyFailure(streamErrorCode(chunk.error), String(chunk.error.message ?? 'provider stream error')) };
    }
    const step: StreamStep<{ done: boolean }> = { state, out: [] };
    const usage = usageFromOpenAI(chunk.usage);
    if (usage) {
      step.usage = usage;
      if (Array.isArray(chunk.choices) && chunk.choices.length === 0) step.usageOnly = true;
    }
    return step;
  },
};

export function openAICompatibleAdapter(quirks: OpenAICompatibleQuirks): ProviderAdapter {
  const unsupported = new Set(quirks.unsupportedParams ?? []);
  const modelInBody = quirks.modelInBody ?? true;
  const authHeaders = quirks.authHeaders ?? bearer;

  function target(dep: Deployment, endpoint: 'chat/completions' | 'embeddings'): Pick<UpstreamRequest, 'origin' | 'path'> {
    const base = parseApiBase(dep.apiBase ?? quirks.defaultApiBase ?? '');
    const path = quirks.endpointPath ? quirks.endpointPath(dep, endpoint) : `${base.basePath}/${endpoint}${base.query}`;
    return { origin: base.origin, path };
  }

  function post(dep: Deployment, endpoint: 'chat/completions' | 'embeddings', body: Record<string, unknown>, source?: string): UpstreamRequest {
    const spliced = modelInBody && source !== undefined ? spliceModel(source, body.model as string, dep.model) : undefined;
    return {
      ...target(dep, endpoint),
      method: 'POST',
      headers: { 'content-type': 'application/json', ...authHeaders(dep), ...dep.headers },
      body: spliced ?? JSON.stringify(modelInBody ? { ...body, model: dep.model } : withoutModel(body)),
    };
  }

  const adapter: ProviderAdapter = {
    name: quirks.name,
    ...(quirks.defaultApiBase ? { defaultApiBase: quirks.defaultApiBase } : {}),
    ...(quirks.genAiProviderName ? { genAiProviderName: quirks.genAiProviderName } : {}),
    validate(dep) {
      const problems: string[] = [];
      if (!dep.apiBase && !quirks.defaultApiBase) problems.push(`provider ${quirks.name} needs api_base (the server's OpenAI-compatible URL, e.g. http://127.0.0.1:8000/v1)`);
      const baseProblem = apiBaseProblem(dep.apiBase);
      if (baseProblem) problems.push(baseProblem);
      if ((quirks.requiresApiKey ?? true) && !dep.apiKey) problems.push(`provider ${quirks.name} needs api_key (write it as os.environ/NAME)`);
      return problems.concat(quirks.validate?.(dep) ?? []);
    },
    chat: {
      wire: 'openai',
      supportsParam: (name, value) => !unsupported.has(name) && (quirks.onlyValues?.[name] === undefined || quirks.onlyValues[name] === value),
      toRequest: (req: ChatRequest, dep, source) => post(dep, 'chat/completions', req, source),
      fromResponse(body, dep): ChatCompletion {
        const completion = body as ChatCompletion;
        if (!completion || typeof completion !== 'object' || !Array.isArray(completion.choices)) throw invalid(dep, 'a chat completion without choices');
        return completion;
      },
      stream: openAIStreamReducer,
    },
    mapError: mapOpenAIError,
    requestIdHeader: 'x-request-id',
  };
  if (quirks.embeddings ?? true) {
    return {
      ...adapter,
      embeddings: {
        toRequest: (req: EmbeddingsRequest, dep) => post(dep, 'embeddings', req),
        fromResponse(body, dep): EmbeddingsResponse {
          const response = body as EmbeddingsResponse;
          if (!response || typeof response !== 'object' || !Array.isArray(response.data)) throw invalid(dep, 'an embeddings response without data');
          return response;
        },
      },
    };
  }
  return adapter;
}

function withoutModel(body: Record<string, unknown>): Record<string, unknown> {
  const { model: _model, ...rest } = body;
  return rest;
}
