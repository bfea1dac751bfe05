import type { Server } from 'node:http';
import Provider from 'oidc-provider';
import { freePort } from '../../src/shared/net.ts';

export interface TestIdentityProvider {
  issuer: string;
  close(): Promise<void>;
}

/**
 * A real OpenID Connect provider (panva's oidc-provider) on 127.0.0.1, with its development login
 * pages: any login name is accepted and becomes the account, whose email is that name.
 */
export async function startOidcProvider(options: { clientId: string; clientSecret: string; redirectUris: string[] }): Promise<TestIdentityProvider> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: options.clientId,
        client_secret: options.clientSecret,
        redirect_uris: options.redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    async findAccount(_ctx: unknown, id: string) {
      return { accountId: id, claims: async () => ({ sub: id, email: id.toLowerCase(), email_verified: true, name: id }) };
    },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    cookies: { keys: ['portico-test-cookie-key'] },
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => true },
    // Tests move no clocks here: the provider runs on real time.
  });
  const server = await new Promise<Server>((resolve) => {
    const s = provider.listen(port, '127.0.0.1', () => resolve(s as Server));
  });
  return {
    issuer,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}


/**
 * Walks the provider's development login and consent pages over plain HTTP (cookies kept), and
 * returns the callback URL the provider redirects to, without following it.
 */
export async function loginAtProviderOverHttp(authorizeUrl: string, login: string, callbackPrefix: string): Promise<string> {
  const cookies = new Map<string, string>();
  const remember = (res: Response) => {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      cookies.set(pair.slice(0, i), pair.slice(i + 1));
    }
  };
  const cookieHeader = () => [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  let url = authorizeUrl;
  let method = 'GET';
  let body: string | undefined;
  for (let step = 0; step < 20; step++) {
    const res = await fetch(url, { method, body, redirect: 'manual', headers: { cookie: cookieHeader(), ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) } });
    remember(res);
    const location = res.headers.get('location');
    if (location) {
      url = new URL(location, url).href;
      if (url.startsWith(callbackPrefix)) return url;
      method = 'GET';
      body = undefined;
      continue;
    }
    const html = await res.text();
    const form = /<form[^>]*action="([^"]+)"[^>]*method="post"/i.exec(html);
    if (!form) throw new Error(`unexpected page from the provider at ${url}: ${res.status}`);
    const fields = new URLSearchParams();
    for (const m of html.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) fields.set(m[1], m[2]);
    if (/name="login"/.test(html)) {
      fields.set('login', login);
      fields.set('password', 'any password');
    }
    url = new URL(form[1].replaceAll('&amp;', '&'), url).href;
    method = 'POST';
    body = fields.toString();
  }
  throw new Error('the provider never redirected back');
}
