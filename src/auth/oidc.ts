import type { Request } from 'express';
import type { Knex } from 'knex';
import * as client from 'openid-client';
import { Strategy, type AuthenticateOptions, type VerifyFunctionWithRequest } from 'openid-client/passport';
import type { PassportStatic } from 'passport';
import { HttpError } from '../errors.ts';
import { linkSsoIdentity } from './data.ts';

export interface OidcSettings {
  issuer: string;
  clientId: string;
  clientSecretEnv: string;
}

export interface OidcDirectory {
  id: string;
  hint: string;
  name: string;
  oidc: OidcSettings;
}

/** Authentication options Portico passes for one sign-in: a directory-hint link forces a fresh login. */
export interface OidcAuthenticateOptions extends AuthenticateOptions {
  forceLogin?: boolean;
}

/**
 * openid-client's strategy, with state and nonce always sent (besides PKCE), and prompt=login with
 * max_age=0 when the person must authenticate again. openid-client then checks state, nonce, the
 * PKCE verifier and, because max_age was sent, that auth_time is fresh.
 */
class PorticoOidcStrategy extends Strategy {
  override authorizationRequestParams<T extends AuthenticateOptions>(req: Request, options: T) {
    const params = new URLSearchParams(super.authorizationRequestParams(req, options) as URLSearchParams);
    params.set('state', client.randomState());
    params.set('nonce', client.randomNonce());
    if ((options as OidcAuthenticateOptions).forceLogin) {
      params.set('prompt', 'login');
      params.set('max_age', '0');
    }
    return params;
  }
}

/** Loopback issuers (tests, a local IdP) may use plain http; anything else must be https. */
function isLoopback(url: URL): boolean {
  return url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
}

export const strategyName = (hint: string) => `oidc:${hint}`;

/** Signs in through a directory's OpenID Connect provider; strategies are made on first use and cached. */
export function createOidcSignIn(deps: { db: Knex; passport: PassportStatic; baseUrl: string; env?: NodeJS.ProcessEnv }) {
  const { db, passport, baseUrl } = deps;
  const env = deps.env ?? process.env;
  const ready = new Map<string, { issuer: string; clientId: string; at: number }>();
  const TTL_MS = 10 * 60 * 1000;

  async function directory(hint: string): Promise<OidcDirectory | null> {
    const row = await db('directories').where({ hint }).first('id', 'hint', 'name', 'sign_in');
    const oidc = row?.sign_in?.oidc as OidcSettings | undefined;
    return row && oidc ? { id: row.id, hint: row.hint, name: row.name, oidc } : null;
  }

  const verify: VerifyFunctionWithRequest = (req, tokens, verified) => {
    (async () => {
      const hint = String(req.params.hint);
      const dir = await directory(hint);
      if (!dir) return verified(null, false, { message: 'unknownDirectory' });
      const config = await configuration(dir);
      const claims = tokens.claims();
      if (!claims) return verified(null, false, { message: 'noIdToken' });
      // The default ID token carries only `sub`: the email comes from the userinfo endpoint.
      const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
      const email = typeof info.email === 'string' ? info.email.toLowerCase() : '';
      if (!email || info.email_verified === false) return verified(null, false, { message: 'noVerifiedEmail' });
      const user = await db('users').where({ directory_id: dir.id, email }).whereNull('disabled_at').first('id');
      if (!user) return verified(null, false, { message: 'unknownAccount', email, directoryName: dir.name } as object);
      // From the first sign-in on, the provider's subject identifies the person, not the address alone.
      const link = await linkSsoIdentity(db, user.id, dir.oidc.issuer, claims.sub);
      if (link !== 'linked') return verified(null, false, { message: link, email, directoryName: dir.name } as object);
      verified(null, { id: user.id } as Express.User);
    })().catch((err) => verified(err));
  };

  async function configuration(dir: OidcDirectory): Promise<client.Configuration> {
    const secret = env[dir.oidc.clientSecretEnv];
    if (!secret) {
      throw new HttpError(503, 'Single sign-on is not set up', `Portico cannot sign you in to ${dir.name}: its OpenID Connect client secret (environment variable ${dir.oidc.clientSecretEnv}) is missing. Tell your administrator.`);
    }
    const issuer = new URL(dir.oidc.issuer);
    return client.discovery(issuer, dir.oidc.clientId, secret, undefined, isLoopback(issuer) ? { execute: [client.allowInsecureRequests] } : undefined);
  }

  return {
    directory,

    /** Registers (or refreshes) the passport strategy of a directory and returns its name. */
    async strategyFor(dir: OidcDirectory): Promise<string> {
      const name = strategyName(dir.hint);
      const cached = ready.get(dir.hint);
      if (cached && cached.issuer === dir.oidc.issuer && cached.clientId === dir.oidc.clientId && Date.now() - cached.at < TTL_MS) return name;
      let config: client.Configuration;
      try {
        config = await configuration(dir);
      } catch (err) {
        if (err instanceof HttpError) throw err;
        throw new HttpError(503, 'Single sign-on is unavailable', `Portico could not reach the sign-in service of ${dir.name}. Try again in a few minutes.`);
      }
      passport.use(
        name,
        new PorticoOidcStrategy(
          {
            config,
            name,
            sessionKey: `oidc:${dir.hint}`,
            scope: 'openid email profile',
            callbackURL: `${baseUrl}/sign-in/oidc/${encodeURIComponent(dir.hint)}/callback`,
            passReqToCallback: true,
          },
          verify,
        ),
      );
      ready.set(dir.hint, { issuer: dir.oidc.issuer, clientId: dir.oidc.clientId, at: Date.now() });
      return name;
    },

    /** Origins of every OIDC issuer: the sign-in forms may be redirected there (CSP form-action). */
    async issuerOrigins(): Promise<string[]> {
      const rows = await db('directories').whereRaw(`sign_in ->> 'oidc' is not null`).select('sign_in');
      return [...new Set(rows.map((r) => new URL((r.sign_in.oidc as OidcSettings).issuer).origin))];
    },
  };
}

export type OidcSignIn = ReturnType<typeof createOidcSignIn>;
