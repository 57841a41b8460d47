// OpenAI content parts → Anthropic content blocks (text, image, document).

import type { ContentPart } from '../types.ts';
import type {
  AnthropicCacheControl, AnthropicDocumentBlock, AnthropicImageBlock, AnthropicImageMediaType,
  AnthropicImageSource, AnthropicTextBlock,
} from './anthropic-types.ts';
import { GatewayError } from '../../errors/gateway-error.ts';

export type AnthropicContentBlock = AnthropicTextBlock | AnthropicImageBlock | AnthropicDocumentBlock;

const IMAGE_TYPES: ReadonlySet<string> = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);

export function invalidRequest(message: string, param: string): GatewayError {
  return new GatewayError('invalid_request', message, { param });
}

/** A `cache_control` value worth forwarding: an object naming its type (e.g. ephemeral). */
export function cacheControlOf(value: unknown): AnthropicCacheControl | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const type = (value as { type?: unknown }).type;
  return typeof type === 'string' ? { ...value } as AnthropicCacheControl : undefined;
}

export interface DataUrl {
  mediaType: string;
  base64: boolean;
  data: string;
}

/** Splits `data:<media type>[;params][;base64],<data>`; undefined when the URL is not a data URL. */
export function parseDataUrl(url: string): DataUrl | undefined {
  const match = /^data:([^;,]*)((?:;[^;,]*)*),(.*)$/s.exec(url);
  if (!match) return undefined;
  const params = match[2].split(';').map((p) => p.trim().toLowerCase());
  return { mediaType: match[1].trim().toLowerCase(), base64: params.includes('base64'), data: match[3] };
}

/** An OpenAI image URL as an Anthropic image source: data URLs inline (base64), http(s) by URL. */
export function imageSource(url: string, param: string): AnthropicImageSource {
  const dataUrl = parseDataUrl(url);
  if (dataUrl) {
    if (!IMAGE_TYPES.has(dataUrl.mediaType)) {
      throw invalidRequest(`Image media type "${dataUrl.mediaType}" is not supported by Anthropic; send image/jpeg, image/png, image/gif or image/webp.`, param);
    }
    if (!dataUrl.base64) throw invalidRequest('Image data URLs must be base64-encoded (data:image/png;base64,...).', param);
    return { type: 'base64', media_type: dataUrl.mediaType as AnthropicImageMediaType, data: dataUrl.data };
  }
  if (/^https?:\/\//i.test(url)) return { type: 'url', url };
  throw invalidRequest('Image URLs must be http(s) URLs or base64 data URLs.', param);
}

function withCache<T extends AnthropicContentBlock>(block: T, part: Readonly<Record<string, unknown>>): T {
  const cache = cacheControlOf(part.cache_control);
  if (cache) block.cache_control = cache;
  return block;
}

/** One OpenAI content part; `allowMedia` false restricts it to text (system prompts). */
export function partToBlock(part: ContentPart, param: string, allowMedia: boolean): AnthropicContentBlock | undefined {
  if (typeof part !== 'object' || part === null) throw invalidRequest('Content parts must be objects.', param);
  if (part.type === 'text' || part.type === 'refusal') {
    const text = part.type === 'text' ? part.text : part.refusal;
    if (typeof text !== 'string') throw invalidRequest(`A ${part.type} part needs a string \`${part.type}\`.`, param);
    // Anthropic rejects empty text blocks; an empty part carries nothing.
    return text === '' ? undefined : withCache({ type: 'text', text }, part);
  }
  if (!allowMedia) throw invalidRequest(`Only text parts are allowed here, got "${part.type}".`, param);
  if (part.type === 'image_url') {
    const imageUrl = part.image_url as { url?: unknown } | undefined;
    if (typeof imageUrl?.url !== 'string') throw invalidRequest('An image_url part needs image_url.url.', `${param}.image_url.url`);
    return withCache({ type: 'image', source: imageSource(imageUrl.url, `${param}.image_url.url`) }, part);
  }
  if (part.type === 'file') {
    const file = part.file as { file_data?: unknown; filename?: unknown } | undefined;
    const dataUrl = typeof file?.file_data === 'string' ? parseDataUrl(file.file_data) : undefined;
    if (!dataUrl || !dataUrl.base64 || dataUrl.mediaType !== 'application/pdf') {
      throw invalidRequest('Anthropic accepts file parts only as base64 PDF data (file.file_data: data:application/pdf;base64,...).', `${param}.file`);
    }
    const block: AnthropicDocumentBlock = { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: dataUrl.data } };
    if (typeof file?.filename === 'string' && file.filename) block.title = file.filename;
    return withCache(block, part);
  }
  throw invalidRequest(`Content part type "${part.type}" is not supported by Anthropic.`, param);
}

/** OpenAI message content (string or parts) as Anthropic blocks; empty text is dropped. */
export function contentToBlocks(content: unknown, param: string, allowMedia: boolean): AnthropicContentBlock[] {
  if (content === undefined || content === null) return [];
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  if (!Array.isArray(content)) throw invalidRequest('Message content must be a string or an array of content parts.', param);
  const blocks: AnthropicContentBlock[] = [];
  content.forEach((part: ContentPart, j) => {
    const block = partToBlock(part, `${param}[${j}]`, allowMedia);
    if (block) blocks.push(block);
  });
  return blocks;
}
