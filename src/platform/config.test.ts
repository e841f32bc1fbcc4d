import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Type } from 'typebox';
import { describe, expect, it } from 'vitest';
import { ConfigError, configLeaves, loadConfig } from './config.js';
import { platformConfigSchema } from './platform-config.js';

const schema = Type.Object({
  platform: platformConfigSchema,
  gateway: Type.Object(
    {
      port: Type.Integer({ default: 8080, minimum: 0, maximum: 65535 }),
      mode: Type.Union([Type.Literal('fast'), Type.Literal('safe')], { default: 'safe' }),
      urls: Type.Array(Type.String(), { default: [] }),
      demoKey: Type.String({ default: '', env: 'ETASERVE_DEMO_API_KEY' }),
    },
    { default: {} },
  ),
});

describe('loadConfig', () => {
  it('takes defaults, then the file, then the environment', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cfg-'));
    const file = path.join(dir, 'etaserve.yaml');
    writeFileSync(file, 'gateway:\n  port: 9000\n  mode: fast\n');
    const config = loadConfig(schema, {
      file,
      env: { ETASERVE_GATEWAY_PORT: '9100', ETASERVE_DATA_DIR: '/srv/eta' },
    });
    expect(config.gateway.port).toBe(9100);
    expect(config.gateway.mode).toBe('fast');
    expect(config.platform.dataDir).toBe('/srv/eta');
    expect(config.platform.drainTimeoutMs).toBe(10_000);
  });

  it('names the key, the value, its source and what was expected', () => {
    expect(() => loadConfig(schema, { env: { ETASERVE_GATEWAY_PORT: 'eighty' } })).toThrow(
      'config: gateway.port = "eighty" (from ETASERVE_GATEWAY_PORT) is invalid: expected an integer from 0 to 65535',
    );
    expect(() => loadConfig(schema, { env: { ETASERVE_GATEWAY_MODE: 'turbo' } })).toThrow(
      'expected one of fast, safe',
    );
  });

  it('refuses unknown keys in the file instead of ignoring a typo', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cfg-'));
    const file = path.join(dir, 'etaserve.json');
    writeFileSync(file, JSON.stringify({ gateway: { prot: 1 } }));
    expect(() => loadConfig(schema, { file, env: {} })).toThrow(
      new ConfigError(`config: unknown key gateway.prot (from file ${file})`),
    );
  });

  it('splits lists and honours a leaf-level variable name', () => {
    const config = loadConfig(schema, {
      env: { ETASERVE_GATEWAY_URLS: 'http://a:1, http://b:2', ETASERVE_DEMO_API_KEY: 'k' },
    });
    expect(config.gateway.urls).toEqual(['http://a:1', 'http://b:2']);
    expect(config.gateway.demoKey).toBe('k');
    expect(configLeaves(schema).map((l) => l.env)).toContain('ETASERVE_LOG_LEVEL');
  });

  it('reports an unreadable or malformed file in one line', () => {
    expect(() => loadConfig(schema, { file: '/nonexistent/etaserve.yaml', env: {} })).toThrow(
      /cannot read config file/,
    );
    const dir = mkdtempSync(path.join(tmpdir(), 'cfg-'));
    const file = path.join(dir, 'bad.json');
    writeFileSync(file, '{"gateway": ');
    expect(() => loadConfig(schema, { file, env: {} })).toThrow(/is not valid JSON/);
  });
});
