import { afterAll, beforeAll, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeLab } from '../helpers/lab-gate.ts';
import { synthesizeFixes, type FixSynthesis } from '../../src/analyzer/fix-synthesis.ts';
import { fixture } from './fixture-path.ts';

/**
 * The apply step loads `rulesetAfter` atomically and people may type `commands` by hand: both must
 * produce exactly the ruleset the candidate was simulated on, in a real kernel. Everything runs in
 * a namespace this test creates; no packets are sent.
 */

const ns = `wbfix${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'wbfix-'));

/** nft -j cannot read JSON from a pipe (it opens /dev/stdin by path), so batches go through a file. */
function nftJsonFile(text: string): string {
  const file = join(dir, `batch-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, text);
  return file;
}
const ctx = { localAddresses: ['192.168.30.2'] };
const telnet = { proto: 'tcp', src: '192.168.30.1', dst: '192.168.30.2', dport: 23 };

function inNs(cmd: string, args: string[], input?: string): string {
  return execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', ...(input === undefined ? {} : { input }), stdio: ['pipe', 'pipe', 'pipe'] });
}

function has(binary: string): boolean {
  try {
    execFileSync(binary, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function ruleLines(saveText: string): string[] {
  return saveText.split('\n').filter((l) => l.startsWith('-A ') || l.startsWith(':') || l.startsWith('*')).map((l) => l.replace(/\[\d+:\d+\]/, '[0:0]'));
}

/** Our command strings carry no quoted arguments for these rulesets, so a blank split is their argv. */
function argv(command: string): string[] {
  return command.split(' ');
}

describeLab('fix candidates load into a real kernel exactly as simulated', () => {
  const seedText = fixture('seed-fedora-telnet.rules');
  const seed: FixSynthesis = synthesizeFixes({ rulesetText: seedText, format: 'iptables-save', packet: telnet, ctx, accept: {} });

  beforeAll(() => {
    execFileSync('ip', ['netns', 'add', ns]);
  });
  afterAll(() => {
    try { execFileSync('ip', ['netns', 'del', ns]); } catch { /* already gone */ }
    rmSync(dir, { recursive: true, force: true });
  });

  for (const backend of ['iptables-legacy', 'iptables-nft']) {
    it(`${backend}: restore --test accepts each rulesetAfter, and the loaded table reads back identical`, (ctx2) => {
      if (!has(backend)) ctx2.skip();
      expect(seed.candidates).toHaveLength(3);
      for (const c of seed.candidates) {
        inNs(`${backend}-restore`, ['-w'], seedText);
        inNs(`${backend}-restore`, ['--test'], c.rulesetAfter);
        inNs(`${backend}-restore`, ['-w'], c.rulesetAfter);
        expect(ruleLines(inNs(`${backend}-save`, ['-t', 'filter'])), c.id).toEqual(ruleLines(c.rulesetAfter));
      }
    });

    it(`${backend}: the step-by-step commands reach the same table as rulesetAfter`, (ctx2) => {
      if (!has(backend)) ctx2.skip();
      for (const c of seed.candidates) {
        inNs(`${backend}-restore`, ['-w'], seedText);
        for (const cmd of c.commands) {
          const [bin, ...args] = argv(cmd);
          expect(bin).toBe('iptables');
          inNs(backend, args);
        }
        expect(ruleLines(inNs(`${backend}-save`, ['-t', 'filter'])), c.id).toEqual(ruleLines(c.rulesetAfter));
      }
    });
  }

  it('nft: the -j -f batch and the nft commands both give the simulated chain order', (ctx2) => {
    if (!has('nft')) ctx2.skip();
    const base = [
      'table inet wbfix {',
      '  chain input {',
      '    type filter hook input priority 0; policy accept;',
      '    ct state established,related accept',
      '    iifname "lo" accept',
      '    tcp dport 22 ct state new accept',
      '    counter reject with icmpx admin-prohibited',
      '    tcp dport 23 accept',
      '  }',
      '}',
      '',
    ].join('\n');
    const load = (): string => {
      inNs('nft', ['flush', 'ruleset']);
      inNs('nft', ['-f', '-'], base);
      return inNs('nft', ['-j', 'list', 'ruleset']);
    };
    const listing = load();
    const r = synthesizeFixes({ rulesetText: listing, format: 'nft-json', packet: telnet, ctx, accept: {} });
    expect(r.candidates.map((c) => c.id)).toEqual(['insert-narrow-accept', 'move-accept-above-blocker', 'move-blocker-below-accept']);
    const chainText = (): string => inNs('nft', ['list', 'chain', 'inet', 'wbfix', 'input']).split('\n').map((l) => l.trim()).filter((l) => l !== '').join('\n');
    for (const c of r.candidates) {
      load();
      inNs('nft', ['-j', '-f', nftJsonFile(c.rulesetAfter)]);
      const viaBatch = chainText();
      load();
      for (const cmd of c.commands) {
        const [bin, ...args] = argv(cmd);
        expect(bin).toBe('nft');
        inNs('nft', args);
      }
      expect(chainText(), c.id).toBe(viaBatch);
    }
    load();
    inNs('nft', ['-j', '-f', nftJsonFile(r.candidates[0]!.rulesetAfter)]);
    expect(chainText()).toContain('tcp dport 22 ct state new accept\nip saddr 192.168.30.1 tcp dport 23 ct state new accept\ncounter packets 0 bytes 0 reject with icmpx admin-prohibited\ntcp dport 23 accept');
  });
});
