import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument, isMap, isSeq, isScalar, type Node as YamlNode } from 'yaml';
import { ErrorCode, WhyBlockedError } from '../errors.ts';
import type { Inventory, InventoryHost, SshSettings } from './inventory-types.ts';
import { closestNames } from './closest-names.ts';

const hostNamePattern = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62})$/;
const userPattern = /^[a-z_][a-z0-9_.-]{0,31}$/i;
const pinnedKeyPattern = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com) [A-Za-z0-9+/]+=*$/;

const hostKeys = ['address', 'aliases', 'site', 'ssh'];
const sshKeys = ['user', 'port', 'privateKey', 'knownHosts', 'hostKeys', 'sudo', 'jump', 'readyTimeoutMs'];
const topKeys = ['defaults', 'hosts'];

const builtinSsh: Omit<SshSettings, 'user'> & { user?: string } = { port: 22, sudo: true, readyTimeoutMs: 5000 };

interface Problem { line: number; message: string }

/** Collects every problem in one pass so an operator fixes the file in one edit. */
class Checker {
  readonly problems: Problem[] = [];
  constructor(private readonly lines: LineCounter) {}

  lineOf(node: unknown): number {
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    return range ? this.lines.linePos(range[0]).line : 1;
  }

  report(node: unknown, message: string): void {
    this.problems.push({ line: this.lineOf(node), message });
  }

  checkKeys(map: YamlNode, allowed: string[], where: string): void {
    if (!isMap(map)) return;
    for (const pair of map.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      if (!allowed.includes(key)) {
        const hint = closestNames(key, allowed);
        this.report(pair.key, `unknown key "${key}" in ${where}${hint.length ? `; did you mean "${hint[0]}"?` : `; allowed keys: ${allowed.join(', ')}`}`);
      }
    }
  }
}

function scalarOf(node: YamlNode | null | undefined): unknown {
  return isScalar(node) ? node.value : undefined;
}

function readSsh(node: YamlNode | null | undefined, where: string, c: Checker, baseDir: string): Partial<SshSettings> {
  if (node == null) return {};
  if (!isMap(node)) {
    c.report(node, `${where} must be a mapping like { user: whyblocked, port: 22 }`);
    return {};
  }
  c.checkKeys(node, sshKeys, where);
  const out: Partial<SshSettings> = {};
  const get = (key: string): YamlNode | undefined => node.get(key, true) as YamlNode | undefined;
  const user = get('user');
  if (user !== undefined) {
    const v = scalarOf(user);
    if (typeof v === 'string' && userPattern.test(v)) out.user = v;
    else c.report(user, `${where}.user must be a login name such as "whyblocked"`);
  }
  const port = get('port');
  if (port !== undefined) {
    const v = scalarOf(port);
    if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535) out.port = v;
    else c.report(port, `${where}.port must be an integer from 1 to 65535`);
  }
  for (const key of ['privateKey', 'knownHosts'] as const) {
    const n = get(key);
    if (n === undefined) continue;
    const v = scalarOf(n);
    if (typeof v === 'string' && v.length > 0 && !v.includes('\0')) out[key] = isAbsolute(v) ? v : resolve(baseDir, v);
    else c.report(n, `${where}.${key} must be a file path (relative paths resolve against the inventory's folder)`);
  }
  const keys = get('hostKeys');
  if (keys !== undefined) {
    const list = isSeq(keys) ? keys.items.map((i) => scalarOf(i as YamlNode)) : [scalarOf(keys)];
    if (list.every((k) => typeof k === 'string' && pinnedKeyPattern.test(k.trim()))) out.hostKeys = (list as string[]).map((k) => k.trim());
    else c.report(keys, `${where}.hostKeys must list public keys like "ssh-ed25519 AAAAC3…" (the host's key type and base64 blob, from ssh-keyscan reviewed out of band)`);
  }
  const sudo = get('sudo');
  if (sudo !== undefined) {
    const v = scalarOf(sudo);
    if (typeof v === 'boolean') out.sudo = v;
    else c.report(sudo, `${where}.sudo must be true or false`);
  }
  const jump = get('jump');
  if (jump !== undefined) {
    const v = scalarOf(jump);
    if (typeof v === 'string' && hostNamePattern.test(v)) out.jump = v;
    else c.report(jump, `${where}.jump must be the name of another host in this inventory`);
  }
  const ready = get('readyTimeoutMs');
  if (ready !== undefined) {
    const v = scalarOf(ready);
    if (typeof v === 'number' && Number.isInteger(v) && v >= 100 && v <= 120_000) out.readyTimeoutMs = v;
    else c.report(ready, `${where}.readyTimeoutMs must be an integer number of milliseconds from 100 to 120000`);
  }
  return out;
}

function readAddresses(node: YamlNode | undefined, name: string, hostNode: YamlNode, c: Checker): string[] {
  if (node === undefined) {
    c.report(hostNode, `host "${name}" has no address; add \`address: 192.0.2.10\` (an IPv4/IPv6 address or a list of them)`);
    return [];
  }
  const items = isSeq(node) ? (node.items as YamlNode[]) : [node];
  const out: string[] = [];
  for (const item of items) {
    const v = scalarOf(item);
    if (typeof v === 'string' && isIP(v) !== 0) out.push(normalizeAddress(v));
    else c.report(item, `host "${name}": address ${JSON.stringify(v ?? null)} is not an IPv4/IPv6 address; put DNS names under \`aliases\``);
  }
  if (isSeq(node) && items.length === 0) c.report(node, `host "${name}": the address list is empty`);
  return out;
}

/** Canonical text form, so `2001:db8::1` and `2001:0db8:0:0::1` resolve to the same host. */
export function normalizeAddress(address: string): string {
  if (isIP(address) !== 6) return address;
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

/** Parses and validates inventory text; `file` is used for messages and to resolve relative paths. */
export function parseInventory(text: string, file: string): Inventory {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const c = new Checker(lines);
  const baseDir = dirname(file);
  for (const err of doc.errors) {
    c.problems.push({ line: err.linePos?.[0]?.line ?? 1, message: `YAML syntax: ${err.message.split('\n')[0]}` });
  }
  const hosts = new Map<string, InventoryHost>();
  const root = doc.contents as YamlNode | null;
  if (c.problems.length === 0) {
    if (!isMap(root)) {
      c.report(root, 'the file must be a mapping with a `hosts:` section (see the README\'s inventory example)');
    } else {
      c.checkKeys(root, topKeys, 'the top level');
      const defaultsNode = root.get('defaults', true) as YamlNode | undefined;
      let defaults: Partial<SshSettings> = {};
      if (defaultsNode !== undefined) {
        if (!isMap(defaultsNode)) c.report(defaultsNode, '`defaults` must be a mapping with an `ssh:` entry');
        else {
          c.checkKeys(defaultsNode, ['ssh'], 'defaults');
          defaults = readSsh(defaultsNode.get('ssh', true) as YamlNode | undefined, 'defaults.ssh', c, baseDir);
        }
      }
      const hostsNode = root.get('hosts', true) as YamlNode | undefined;
      if (!isMap(hostsNode)) {
        c.report(hostsNode ?? root, 'missing `hosts:` mapping; add at least one host, e.g.\n      hosts:\n        web01: { address: 192.0.2.10 }');
      } else {
        for (const pair of hostsNode.items) {
          const name = isScalar(pair.key) ? String(pair.key.value) : '';
          const value = pair.value as YamlNode | null;
          if (!hostNamePattern.test(name)) {
            c.report(pair.key, `host name "${name}" is invalid: use letters, digits, '.', '_' or '-' (max 63 characters)`);
            continue;
          }
          if (!isMap(value)) {
            c.report(pair.key, `host "${name}" must be a mapping such as { address: 192.0.2.10 }`);
            continue;
          }
          c.checkKeys(value, hostKeys, `host "${name}"`);
          const addresses = readAddresses(value.get('address', true) as YamlNode | undefined, name, pair.key as YamlNode, c);
          const aliasesNode = value.get('aliases', true) as YamlNode | undefined;
          let aliases: string[] = [];
          if (aliasesNode !== undefined) {
            const items = isSeq(aliasesNode) ? (aliasesNode.items as YamlNode[]) : [aliasesNode];
            aliases = items.map((i) => scalarOf(i)).filter((a): a is string => typeof a === 'string' && hostNamePattern.test(a));
            if (aliases.length !== items.length) c.report(aliasesNode, `host "${name}": aliases must be names like web01.example.com`);
          }
          const siteNode = value.get('site', true) as YamlNode | undefined;
          const site = siteNode === undefined ? 'default' : scalarOf(siteNode);
          if (typeof site !== 'string' || !/^[a-z0-9][a-z0-9_-]{0,31}$/i.test(site)) {
            c.report(siteNode, `host "${name}": site must be a short name like dc1 (letters, digits, '-', '_')`);
          }
          const own = readSsh(value.get('ssh', true) as YamlNode | undefined, `host "${name}" ssh`, c, baseDir);
          const merged = { ...builtinSsh, ...defaults, ...own };
          if (merged.user === undefined) {
            c.report(pair.key, `host "${name}" has no SSH user; set defaults.ssh.user or hosts.${name}.ssh.user`);
          }
          hosts.set(name, { name, addresses, aliases, site: typeof site === 'string' ? site : 'default', ssh: merged as SshSettings, line: c.lineOf(pair.key) });
        }
        checkReferences(hosts, c, hostsNode);
      }
    }
  }
  if (c.problems.length > 0) {
    const sorted = [...c.problems].sort((a, b) => a.line - b.line);
    throw new WhyBlockedError(
      ErrorCode.InventoryInvalid,
      `${file} is not a valid inventory:\n${sorted.map((p) => `  ${file}:${p.line}: ${p.message}`).join('\n')}`,
      { details: { file, problems: sorted } },
    );
  }
  return { file, hosts };
}

function checkReferences(hosts: Map<string, InventoryHost>, c: Checker, hostsNode: YamlNode): void {
  const seen = new Map<string, string>();
  const claim = (key: string, owner: InventoryHost, what: string): void => {
    const prev = seen.get(key.toLowerCase());
    if (prev !== undefined && prev !== owner.name) {
      c.problems.push({ line: owner.line ?? c.lineOf(hostsNode), message: `${what} "${key}" of host "${owner.name}" is already used by host "${prev}"; each name, alias and address must point to one host` });
    } else seen.set(key.toLowerCase(), owner.name);
  };
  for (const h of hosts.values()) claim(h.name, h, 'name');
  for (const h of hosts.values()) {
    for (const a of h.aliases) claim(a, h, 'alias');
    for (const a of h.addresses) claim(a, h, 'address');
  }
  for (const h of hosts.values()) {
    const jump = h.ssh.jump;
    if (jump === undefined) continue;
    if (!hosts.has(jump)) {
      const hint = closestNames(jump, [...hosts.keys()]);
      c.problems.push({ line: h.line ?? 1, message: `host "${h.name}" jumps through "${jump}", which is not in the inventory${hint.length ? `; did you mean "${hint[0]}"?` : ''}` });
      continue;
    }
    const chain = [h.name];
    let cur: string | undefined = jump;
    while (cur !== undefined) {
      if (chain.includes(cur)) {
        c.problems.push({ line: h.line ?? 1, message: `jump hosts form a loop: ${[...chain, cur].join(' -> ')}; remove one of the jump entries` });
        break;
      }
      chain.push(cur);
      cur = hosts.get(cur)?.ssh.jump;
    }
  }
}

/** Reads an inventory file; a missing file is an error that says how to point at the right one. */
export function loadInventory(file: string, cwd: string = process.cwd()): Inventory {
  const path = resolve(cwd, file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new WhyBlockedError(
      ErrorCode.InventoryNotFound,
      code === 'ENOENT'
        ? `inventory file ${path} does not exist; create it (see the README) or set WHY_BLOCKED_INVENTORY to its path`
        : `cannot read inventory file ${path} (${code ?? String(err)}); check its permissions`,
      { details: { file: path }, cause: err },
    );
  }
  return parseInventory(text, path);
}
