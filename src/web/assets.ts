import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants, gzipSync } from 'node:zlib';
import type { RequestHandler } from 'express';

export const PUBLIC_DIR = fileURLToPath(new URL('../../public/', import.meta.url));

const TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.png': 'image/png',
  '.txt': 'text/plain; charset=utf-8',
};

interface Asset {
  body: Buffer;
  /** The body gzipped once at start (best compression), when that makes it smaller. */
  gzip: Buffer | null;
  type: string;
  url: string;
  /** The fingerprint in the url, which is also the ETag. */
  hash: string;
}

const COMPRESSIBLE = new Set(['.css', '.js', '.svg', '.txt']);

export interface AssetCatalog {
  url(name: string): string;
  middleware: RequestHandler;
}

/**
 * Serves public/ under fingerprinted names (/assets/css/portico.3f9a0c1d2b.css) with a year-long
 * immutable cache, so later pages reuse CSS and JS and a new release is fetched at once. Text
 * assets are compressed once when Portico starts, not on every request.
 */
export function loadAssets(dir: string = PUBLIC_DIR): AssetCatalog {
  const byName = new Map<string, Asset>();
  const byUrl = new Map<string, Asset>();
  const walk = (sub: string) => {
    for (const entry of readdirSync(path.join(dir, sub))) {
      const rel = sub ? `${sub}/${entry}` : entry;
      if (statSync(path.join(dir, rel)).isDirectory()) {
        walk(rel);
        continue;
      }
      const body = readFileSync(path.join(dir, rel));
      const hash = createHash('sha256').update(body).digest('hex').slice(0, 10);
      const ext = path.extname(rel);
      const url = `/assets/${rel.slice(0, -ext.length)}.${hash}${ext}`;
      const gzip = COMPRESSIBLE.has(ext) ? gzipSync(body, { level: constants.Z_BEST_COMPRESSION }) : null;
      const asset = { body, gzip: gzip && gzip.length < body.length ? gzip : null, type: TYPES[ext] ?? 'application/octet-stream', url, hash };
      byName.set(rel, asset);
      byUrl.set(url, asset);
    }
  };
  walk('');
  return {
    url(name) {
      const asset = byName.get(name);
      if (!asset) throw new Error(`Unknown asset ${name}`);
      return asset.url;
    },
    middleware(req, res, next) {
      const asset = byUrl.get(req.path);
      if (!asset || (req.method !== 'GET' && req.method !== 'HEAD')) return next();
      res.set({ 'Content-Type': asset.type, 'Cache-Control': 'public, max-age=31536000, immutable' });
      if (asset.gzip) res.vary('Accept-Encoding');
      if (asset.gzip && req.acceptsEncodings('gzip', 'identity') === 'gzip') {
        res.set({ 'Content-Encoding': 'gzip', ETag: `"${asset.hash}-gzip"` }).send(asset.gzip);
      } else {
        res.set('ETag', `"${asset.hash}"`).send(asset.body);
      }
    },
  };
}
