import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { EtaError, type Routes } from '../platform/index.js';

/** The client-side routes of the single-page app; each serves index.html, and the app draws the page. */
export const CONSOLE_PAGES = ['/live', '/models', '/accuracy', '/orders', '/map', '/try'] as const;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
};

interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
  /** Vite names every file under assets/ by its content hash, so a browser may keep them forever. */
  immutable: boolean;
}

/**
 * Where the built console is: `dist/console/web` beside the compiled module. When the server runs from the
 * sources (tsx, tests), `src/console/web` holds only the sources, so the build in `dist/` is used instead.
 */
export function findConsoleBuild(): string | undefined {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, 'web'), path.resolve(here, '../../dist/console/web')];
  return candidates.find(
    (dir) => existsSync(path.join(dir, 'index.html')) && existsSync(path.join(dir, 'assets')),
  );
}

function walk(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...walk(full, `${prefix}${name}/`));
    else out.push(`${prefix}${name}`);
  }
  return out;
}

/** The whole build read once at start: a few hundred kilobytes, served from memory with no disk access per request. */
export function loadStaticFiles(dir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const rel of walk(dir)) {
    if (rel.startsWith('.vite/')) continue;
    const body = readFileSync(path.join(dir, rel));
    files.set(`/${rel}`, {
      body,
      type: TYPES[path.extname(rel)] ?? 'application/octet-stream',
      etag: `"${createHash('sha1').update(body).digest('base64url').slice(0, 20)}"`,
      immutable: rel.startsWith('assets/'),
    });
  }
  return files;
}

function send(req: FastifyRequest, reply: FastifyReply, file: StaticFile): FastifyReply {
  void reply.header('etag', file.etag);
  void reply.header('cache-control', file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
  void reply.header('x-content-type-options', 'nosniff');
  if (req.headers['if-none-match'] === file.etag) return reply.code(304).send();
  return reply.type(file.type).send(file.body);
}

/** The built single-page app: its files, and index.html for `/` and every client-side page. */
export function staticRoutes(files: Map<string, StaticFile>): Routes {
  const index = files.get('/index.html')!;
  return async (app) => {
    const hide = { schema: { hide: true } };
    for (const page of ['/', ...CONSOLE_PAGES])
      app.get(page, hide, async (req, reply) => send(req, reply, index));
    for (const [name, file] of files) {
      if (name === '/index.html' || name.startsWith('/assets/')) continue;
      app.get(name, hide, async (req, reply) => send(req, reply, file));
    }
    app.get('/assets/*', hide, async (req, reply) => {
      const file = files.get(`/assets/${(req.params as { '*': string })['*']}`);
      if (!file) throw new EtaError('not_found', 'no such console file');
      return send(req, reply, file);
    });
  };
}
