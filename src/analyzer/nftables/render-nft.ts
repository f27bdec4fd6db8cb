/** Renders nft JSON statements back into nft syntax, for the `rule` text of reports. */

type Json = unknown;
type Obj = Record<string, Json>;
const isObj = (v: Json): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function renderNftExpr(e: Json): string {
  if (typeof e === 'string') return /^[A-Za-z0-9_.:/@-]+$/.test(e) ? e : JSON.stringify(e);
  if (typeof e === 'number' || typeof e === 'boolean') return String(e);
  if (Array.isArray(e)) return `{ ${e.map(renderNftExpr).join(', ')} }`;
  if (!isObj(e)) return '?';
  if (isObj(e.payload)) return `${String(e.payload.protocol)} ${String(e.payload.field)}`;
  if (isObj(e.meta)) return `meta ${String(e.meta.key)}`.replace(/^meta (iifname|oifname|iif|oif|mark|l4proto|nfproto)$/, (m, k: string) => (k === 'l4proto' || k === 'nfproto' || k === 'mark' ? m : k));
  if (isObj(e.ct)) return `ct ${String(e.ct.key)}`;
  if (isObj(e.fib)) return `fib ${Array.isArray(e.fib.flags) ? e.fib.flags.join(' . ') : ''} ${String(e.fib.result)}`;
  if (e === null) return 'null';
  if (isObj(e.prefix)) return `${renderNftExpr(e.prefix.addr)}/${String(e.prefix.len)}`;
  if (Array.isArray(e.range)) return `${renderNftExpr(e.range[0])}-${renderNftExpr(e.range[1])}`;
  if (Array.isArray(e.set)) return `{ ${e.set.map(renderNftExpr).join(', ')} }`;
  if (Array.isArray(e.concat)) return e.concat.map(renderNftExpr).join(' . ');
  if (Array.isArray(e['|'])) return e['|'].map((x) => (typeof x === 'number' ? `0x${(x >>> 0).toString(16)}` : renderNftExpr(x))).join(' | ');
  if (Array.isArray(e['&'])) {
    const mask = e['&'][1];
    const m = typeof mask === 'number' ? `0x${(mask >>> 0).toString(16)}` : `(${renderNftExpr(mask).replace(/^\{ | \}$/g, '').replace(/, /g, '|')})`;
    return `${renderNftExpr(e['&'][0])} & ${m}`;
  }
  if (Array.isArray(e['^'])) return `${renderNftExpr(e['^'][0])} ^ ${renderNftExpr(e['^'][1])}`;
  if (isObj(e.elem)) return renderNftExpr(e.elem.val);
  const k = Object.keys(e)[0];
  return k ?? '?';
}

function renderVerdict(s: Obj): string | undefined {
  if ('accept' in s) return 'accept';
  if ('drop' in s) return 'drop';
  if ('continue' in s) return 'continue';
  if ('return' in s) return 'return';
  if (isObj(s.jump)) return `jump ${String(s.jump.target)}`;
  if (isObj(s.goto)) return `goto ${String(s.goto.target)}`;
  if ('reject' in s) {
    const r = s.reject;
    if (!isObj(r)) return 'reject';
    if (r.type === 'tcp reset') return 'reject with tcp reset';
    return `reject with ${String(r.type)} ${String(r.expr ?? 'port-unreachable')}`;
  }
  return undefined;
}

export function renderNftStatements(stmts: Json[]): string {
  const out: string[] = [];
  for (const s of stmts) {
    if (!isObj(s)) continue;
    const v = renderVerdict(s);
    if (v) { out.push(v); continue; }
    if (isObj(s.match)) {
      const m = s.match;
      const op = String(m.op ?? '==');
      const binop = isObj(m.left) && Array.isArray(m.left['&']);
      const opText = (op === '==' && !binop) || op === 'in' ? '' : `${op} `;
      out.push(`${renderNftExpr(m.left)} ${opText}${renderNftExpr(m.right)}`);
      continue;
    }
    if ('counter' in s) { out.push('counter'); continue; }
    if ('log' in s) {
      const l = s.log;
      out.push(isObj(l) && typeof l.prefix === 'string' ? `log prefix ${JSON.stringify(l.prefix)}` : 'log');
      continue;
    }
    if (isObj(s.xt)) { out.push(`xt ${String(s.xt.type)} ${String(s.xt.name)}`); continue; }
    if (isObj(s.mangle)) { out.push(`${renderNftExpr(s.mangle.key)} set ${renderNftExpr(s.mangle.value)}`); continue; }
    if ('notrack' in s) { out.push('notrack'); continue; }
    if ('dnat' in s || 'snat' in s) {
      const kind = 'dnat' in s ? 'dnat' : 'snat';
      const d = s[kind];
      const addr = isObj(d) && d.addr !== undefined ? renderNftExpr(d.addr) : '';
      const port = isObj(d) && d.port !== undefined ? `:${renderNftExpr(d.port)}` : '';
      out.push(`${kind} to ${addr}${port}`);
      continue;
    }
    if ('redirect' in s) {
      const d = s.redirect;
      out.push(isObj(d) && d.port !== undefined ? `redirect to :${renderNftExpr(d.port)}` : 'redirect');
      continue;
    }
    if ('masquerade' in s) { out.push('masquerade'); continue; }
    if (isObj(s.vmap)) {
      const data = s.vmap.data;
      const body = isObj(data) && Array.isArray(data.set)
        ? `{ ${data.set.map((p) => (Array.isArray(p) ? `${renderNftExpr(p[0])} : ${isObj(p[1]) ? renderVerdict(p[1]) ?? '?' : '?'}` : '?')).join(', ')} }`
        : renderNftExpr(data);
      out.push(`${renderNftExpr(s.vmap.key)} vmap ${body}`);
      continue;
    }
    if (isObj(s.limit)) { out.push(`limit rate ${String(s.limit.rate)}/${String(s.limit.per)}`); continue; }
    out.push(Object.keys(s)[0] ?? '?');
  }
  return out.join(' ');
}
