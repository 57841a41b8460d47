export interface AdminAnswer {
  status: number;
  json: any;
  headers: Headers;
}

/** One JSON call to a gateway (admin API or model API) with a bearer key, as a script would make it. */
export async function adminRequest(url: string, key: string, method: string, path: string, body?: unknown): Promise<AdminAnswer> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined, headers: res.headers };
}

/** A response body as JSON, or as text when it is not JSON (a test's view of any answer). */
export async function jsonOrText(res: Response): Promise<any> {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
