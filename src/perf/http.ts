import http from 'node:http';
import { gunzipSync } from 'node:zlib';

export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body as sent (compressed when the server compressed it). */
  raw: Buffer;
  /** The body as text, decompressed. */
  text: string;
}

/** One HTTP request on 127.0.0.1, with exactly the headers given (no Origin, no cookies jar). */
export function request(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: { ...options.headers, ...(options.body ? { 'Content-Length': String(Buffer.byteLength(options.body)) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        const text = res.headers['content-encoding'] === 'gzip' ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, raw, text });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (options.body) req.write(options.body);
    req.end();
  });
}

/** The name=value pairs of Set-Cookie headers, merged into a Cookie header value. */
export function cookiesFrom(res: Response, previous = ''): string {
  const jar = new Map(previous ? previous.split('; ').map((c) => c.split('=', 2) as [string, string]) : []);
  for (const line of res.headers['set-cookie'] ?? []) {
    const [pair] = line.split(';');
    const at = pair.indexOf('=');
    jar.set(pair.slice(0, at), pair.slice(at + 1));
  }
  return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
}

export function csrfFrom(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error('no CSRF token on the page');
  return m[1];
}

/**
 * Signs in through the real form, as a browser would, and returns the session cookie and the
 * session's CSRF token. `base` headers go with every request (the benchmark says it is behind TLS).
 */
export async function signIn(url: string, email: string, password: string, base: Record<string, string>): Promise<{ cookie: string; csrf: string }> {
  const page = await request(`${url}/sign-in`, { headers: base });
  let cookie = cookiesFrom(page);
  const body = new URLSearchParams({ _csrf: csrfFrom(page.text), email, password, returnTo: '/' }).toString();
  const res = await request(`${url}/sign-in`, { method: 'POST', headers: { ...base, Cookie: cookie, 'Content-Type': 'application/x-www-form-urlencoded' }, body });
  if (res.status !== 303 || res.headers.location !== '/') throw new Error(`sign-in as ${email} failed with ${res.status}`);
  cookie = cookiesFrom(res, cookie);
  const home = await request(`${url}/`, { headers: { ...base, Cookie: cookie } });
  if (home.status !== 200) throw new Error(`after signing in as ${email}, / answered ${home.status}`);
  return { cookie: cookiesFrom(home, cookie), csrf: csrfFrom(home.text) };
}
