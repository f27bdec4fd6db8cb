import type { Family, Match, Target } from '../model.ts';
import { parseNet } from '../ip-address.ts';
import { protoNumber } from '../protocols.ts';
import { AddrMatch, intern, internTarget, type ParsedRuleOptions } from './parse-rule-options.ts';

function tokenEnd(line: string, p: number): number {
  let e = p;
  while (e < line.length && line.charCodeAt(e) !== 32) e++;
  return e;
}

/**
 * Fast path for the rule shapes iptables-save prints most (`[!] -s/-d/-i/-o/-p`, `-m tcp|udp`
 * ports, `-m comment`, ACCEPT/DROP/RETURN/REJECT/user-chain targets). It reads the line in place
 * instead of tokenizing it and builds exactly what the general parser builds; anything else
 * (including every malformed line) returns undefined and goes to the general parser.
 */
export function parseCanonicalRule(line: string, pos: number, family: Family, chains: ReadonlySet<string>): ParsedRuleOptions | undefined {
  const n = line.length;
  const matches: Match[] = [];
  let comment: string | undefined;
  let target: Target = { kind: 'none' };
  let module = '';
  let proto = -1;
  let stage = 0; // 0 core options, 1 matches, 2 target seen
  while (pos < n) {
    if (line.charCodeAt(pos) === 32) { pos++; continue; }
    if (stage === 2) return undefined;
    let invert = false;
    if (line.charCodeAt(pos) === 33 /* ! */) {
      if (line.charCodeAt(pos + 1) !== 32) return undefined;
      invert = true;
      pos += 2;
    }
    const optEnd = tokenEnd(line, pos);
    const opt = line.slice(pos, optEnd);
    const valStart = optEnd + 1;
    if (valStart >= n || line.charCodeAt(valStart) === 34 && opt !== '--comment') return undefined;
    const valEnd = tokenEnd(line, valStart);
    const value = line.slice(valStart, valEnd);
    if (value === '' || value === '!') return undefined;
    pos = valEnd;
    const bang = invert ? '! ' : '';
    switch (opt) {
      case '-s': case '-d': {
        if (stage !== 0 || value.includes(',')) return undefined;
        const net = parseNet(value);
        if (!net || net.family !== family) return undefined;
        matches.push(new AddrMatch(family, opt === '-s' ? 'src' : 'dst', net.addr, net.mask, invert));
        break;
      }
      case '-i': case '-o': {
        if (stage !== 0 || value.length > 15) return undefined;
        const wildcard = value.endsWith('+');
        matches.push(intern(family, '', { kind: 'iface', dir: opt === '-i' ? 'in' : 'out', name: wildcard ? value.slice(0, -1) : value,
          wildcard, invert, text: `${bang}${opt} ${value}` }));
        break;
      }
      case '-p': {
        if (stage !== 0) return undefined;
        const p = protoNumber(value);
        if (p === undefined || p === 0) return undefined;
        if (!invert) proto = p;
        matches.push(intern(family, '', { kind: 'proto', proto: p, invert, text: `${bang}-p ${value}` }));
        break;
      }
      case '-m': {
        if (invert) return undefined;
        if (value === 'tcp' && proto === 6) module = 'tcp';
        else if (value === 'udp' && proto === 17) module = 'udp';
        else if (value === 'comment') module = 'comment';
        else return undefined;
        stage = 1;
        break;
      }
      case '--dport': case '--sport': {
        if (module !== 'tcp' && module !== 'udp') return undefined;
        let port = 0;
        for (let i = 0; i < value.length; i++) {
          const c = value.charCodeAt(i);
          if (c < 48 || c > 57) return undefined;
          port = port * 10 + (c - 48);
        }
        if (port > 65535 || value.length > 5) return undefined;
        const field = opt === '--dport' ? 'dport' : 'sport';
        matches.push(intern(family, module, { kind: 'ports', field, ranges: [[port, port]], invert, text: `${bang}--${field} ${value}` }));
        break;
      }
      case '--comment': {
        if (module !== 'comment' || invert) return undefined;
        if (line.charCodeAt(valStart) === 34) {
          const close = line.indexOf('"', valStart + 1);
          const slash = line.indexOf('\\', valStart + 1);
          if (close < 0 || (slash >= 0 && slash < close)) return undefined;
          if (close + 1 < n && line.charCodeAt(close + 1) !== 32) return undefined;
          comment = line.slice(valStart + 1, close);
          pos = close + 1;
        } else {
          if (value.includes('"')) return undefined;
          comment = value;
        }
        break;
      }
      case '-j': {
        if (invert) return undefined;
        stage = 2;
        if (value === 'ACCEPT') target = internTarget({ kind: 'accept' });
        else if (value === 'DROP') target = internTarget({ kind: 'drop' });
        else if (value === 'RETURN') target = internTarget({ kind: 'return' });
        else if (value === 'REJECT') {
          // Only the canonical `--reject-with` spellings; the general parser handles aliases and errors.
          const rest = line.slice(pos).trim();
          if (rest === '') return undefined;
          const m = /^--reject-with (icmp-[a-z-]+|icmp6-[a-z-]+|tcp-reset)$/.exec(rest);
          if (!m) return undefined;
          const w = m[1] as string;
          const ok4 = ['icmp-net-unreachable', 'icmp-host-unreachable', 'icmp-proto-unreachable', 'icmp-port-unreachable',
            'icmp-net-prohibited', 'icmp-host-prohibited', 'icmp-admin-prohibited', 'tcp-reset'];
          const ok6 = ['icmp6-no-route', 'icmp6-adm-prohibited', 'icmp6-addr-unreachable', 'icmp6-port-unreachable',
            'icmp6-policy-fail', 'icmp6-reject-route', 'tcp-reset'];
          if (!(family === 'ipv4' ? ok4 : ok6).includes(w)) return undefined;
          target = internTarget({ kind: 'reject', with: w as Extract<Target, { kind: 'reject' }>['with'] });
          pos = n;
        } else if (chains.has(value)) target = { kind: 'jump', chain: value };
        else return undefined;
        break;
      }
      default:
        return undefined;
    }
  }
  return comment === undefined ? { matches, target } : { matches, target, comment };
}
