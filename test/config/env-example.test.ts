import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { configKeys, loadConfig } from '../../src/config/load-config.ts';

const text = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');

describe('.env.example', () => {
  it('lists exactly the keys the code reads', () => {
    expect(Object.keys(parseEnv(text)).sort()).toEqual([...configKeys].sort());
  });

  it('gives every key a one-line comment right above it', () => {
    const lines = text.split('\n');
    for (const key of configKeys) {
      const i = lines.findIndex((l) => l.startsWith(`${key}=`));
      expect(lines[i - 1], key).toMatch(/^# \S/);
    }
  });

  it('is itself a valid configuration for the CLI', () => {
    expect(() => loadConfig(parseEnv(text), 'cli')).not.toThrow();
  });
});
