// HTTP to a running gateway, for the commands that talk to one (drill, smoke): URLs, the admin
// bearer header, reading an answer, and the error an answer carries.

import type { request } from 'undici';

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

export function endpoint(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path}`;
}

export function authHeaders(adminKey: string | undefined): Record<string, string> {
  return adminKey ? { authorization: `Bearer ${adminKey}` } : {};
}

/** The whole body, and its JSON when it is JSON. */
export async function readAnswer(res: Awaited<ReturnType<typeof request>>): Promise<HttpAnswer> {
  const text = await res.body.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

/** The gateway's error code and message, or the HTTP status and the start of the body. */
export function errorOf(answer: HttpAnswer): { code: string; message: string } {
  const error = answer.json?.error;
  if (error && typeof error.message === 'string') return { code: typeof error.code === 'string' ? error.code : `http_${answer.status}`, message: error.message };
  return { code: `http_${answer.status}`, message: answer.text.slice(0, 300) || '(empty body)' };
}
