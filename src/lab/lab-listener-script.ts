import type { LabListenerSpec } from './lab-scenario.ts';

/**
 * Source of the per-host listener process (run with `node -e`, CommonJS, no dependencies):
 * argv[1] is the JSON listener list, argv[2] the file written once every socket is bound.
 * `tcp` holds connections open; `inetd` hands each connection to program as stdin/stdout, like
 * inetd does for `tcpd in.telnetd`, so TCP wrappers see a real peer address.
 */
export const listenerScript = String.raw`
const net = require('node:net');
const fs = require('node:fs');
const cp = require('node:child_process');
const specs = JSON.parse(process.argv[1]);
const readyFile = process.argv[2];
// ss -p shows the comm name: a host serving through tcpd should look like inetd to the probes.
if (specs.some((s) => s.kind === 'inetd')) process.title = 'inetd';
let pending = specs.length;
const bound = () => { pending -= 1; if (pending === 0) fs.writeFileSync(readyFile, String(process.pid)); };
for (const s of specs) {
  const server = net.createServer({ pauseOnConnect: s.kind === 'inetd' }, (sock) => {
    sock.on('error', () => {});
    if (s.kind === 'inetd') {
      const child = cp.spawn(s.program, s.argv.slice(1), { argv0: s.argv[0], stdio: [sock, sock, 'ignore'] });
      child.on('error', (e) => process.stderr.write(s.program + ': ' + e.message + '\n'));
      sock.destroy();
      return;
    }
    if (s.banner) sock.write(s.banner);
    sock.resume();
    sock.on('end', () => sock.end());
  });
  server.on('error', (e) => { process.stderr.write('listen ' + s.address + ':' + s.port + ': ' + e.message + '\n'); process.exit(1); });
  server.listen({ host: s.address, port: s.port }, () => { process.stderr.write('listening on ' + s.address + ':' + s.port + '\n'); bound(); });
}
if (specs.length === 0) fs.writeFileSync(readyFile, String(process.pid));
`;

export function listenerArgv(nodeBinary: string, listeners: LabListenerSpec[], readyFile: string): string[] {
  return [nodeBinary, '-e', listenerScript, JSON.stringify(listeners), readyFile];
}
