import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';

const dir = fileURLToPath(new URL('../../deploy/k8s/', import.meta.url));
const schemaJson = JSON.parse(readFileSync(new URL('./schemas/k8s-subset.schema.json', import.meta.url), 'utf8')) as { $schema: string; $defs: Record<string, unknown> };

/** One zod validator per kind, built from the JSON Schema's $defs. */
const validators = new Map(Object.keys(schemaJson.$defs).filter((k) => /^[A-Z]/.test(k))
  .map((kind) => [kind, z.fromJSONSchema({ $schema: schemaJson.$schema, $ref: `#/$defs/${kind}`, $defs: schemaJson.$defs } as never)]));

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const files = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();
const docs: Array<{ file: string; doc: Obj }> = files.flatMap((file) => parseAllDocuments(readFileSync(join(dir, file), 'utf8'))
  .map((d) => {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]!.message}`);
    return { file, doc: d.toJS() as Obj };
  }));
const ofKind = (kind: string) => docs.filter((d) => d.doc.kind === kind).map((d) => d.doc);
const workloads = [...ofKind('Deployment'), ...ofKind('StatefulSet')];
const appDeployments = ofKind('Deployment');
const containersOf = (w: Obj): Obj[] => w.spec.template.spec.containers as Obj[];
const roleOf = (d: Obj): string => d.spec.template.metadata.labels['app.kubernetes.io/component'] as string;

describe('deploy/k8s manifests', () => {
  it('are all valid against the subset schema of their kind', () => {
    expect(docs.length).toBeGreaterThan(5);
    for (const { file, doc } of docs) {
      const validator = validators.get(doc.kind as string);
      expect(validator, `${file}: kind ${doc.kind} has no schema`).toBeDefined();
      const result = validator!.safeParse(doc);
      expect(result.success ? [] : result.error.issues, `${file} ${doc.kind}/${doc.metadata?.name}`).toEqual([]);
    }
  });

  it.each([
    ['a container without a readiness probe', (d: Obj) => { delete containersOf(d)[0]!.readinessProbe; }],
    ['a container that may run as root', (d: Obj) => { containersOf(d)[0]!.securityContext.runAsNonRoot = false; }],
    ['a writable root filesystem', (d: Obj) => { containersOf(d)[0]!.securityContext.readOnlyRootFilesystem = false; }],
    ['missing resource limits', (d: Obj) => { delete containersOf(d)[0]!.resources.limits; }],
    ['a latest image', (d: Obj) => { containersOf(d)[0]!.image = 'why-blocked:latest'; }],
    ['a missing metadata.name', (d: Obj) => { delete d.metadata.name; }],
  ])('the schema refuses %s', (_name, mutate) => {
    const copy = structuredClone(appDeployments[0]!);
    mutate(copy);
    expect(validators.get('Deployment')!.safeParse(copy).success).toBe(false);
  });

  it('has a bot Deployment and a worker Deployment per site, each with a matching --site', () => {
    expect(appDeployments.map(roleOf)).toContain('bot');
    const workers = appDeployments.filter((d) => roleOf(d) === 'worker');
    expect(workers.length).toBeGreaterThan(0);
    for (const w of workers) {
      const site = w.spec.template.metadata.labels['why-blocked/site'] as string;
      expect(containersOf(w)[0]!.args).toEqual(['why-blocked', 'worker', '--site', site]);
    }
  });

  it('selects exactly its own pods: every selector matches its template labels', () => {
    for (const w of workloads) {
      const labels = w.spec.template.metadata.labels as Record<string, string>;
      for (const [k, v] of Object.entries(w.spec.selector.matchLabels as Record<string, string>)) expect(labels[k], `${w.metadata.name} ${k}`).toBe(v);
    }
    for (const s of ofKind('Service')) {
      const matched = workloads.filter((w) => Object.entries(s.spec.selector as Record<string, string>).every(([k, v]) => w.spec.template.metadata.labels[k] === v));
      expect(matched.length, `Service ${s.metadata.name}`).toBe(1);
    }
  });

  it('wires the app probes to /healthz (liveness) and /readyz (readiness) on a declared port', () => {
    for (const d of appDeployments) {
      for (const c of containersOf(d)) {
        expect(c.livenessProbe.httpGet.path).toBe('/healthz');
        expect(c.readinessProbe.httpGet.path).toBe('/readyz');
        expect((c.ports as Obj[]).map((p) => p.name)).toContain(c.readinessProbe.httpGet.port);
      }
    }
  });

  it('mounts only volumes that exist, from ConfigMaps and Secrets that exist, with a writable /tmp', () => {
    const configMaps = new Map(ofKind('ConfigMap').map((c) => [c.metadata.name as string, c]));
    const secrets = new Map(ofKind('Secret').map((s) => [s.metadata.name as string, s]));
    for (const d of appDeployments) {
      const volumes = new Map((d.spec.template.spec.volumes as Obj[]).map((v) => [v.name as string, v]));
      for (const c of containersOf(d)) {
        const mounts = c.volumeMounts as Obj[];
        expect(mounts.map((m) => m.mountPath)).toContain('/tmp');
        for (const m of mounts) {
          const v = volumes.get(m.name as string);
          expect(v, `${d.metadata.name}: volume ${m.name}`).toBeDefined();
          if (v!.configMap) {
            const cm = configMaps.get(v!.configMap.name as string);
            expect(cm, `ConfigMap ${v!.configMap.name}`).toBeDefined();
            if (m.subPath) expect(cm!.data, `${m.subPath}`).toHaveProperty(m.subPath as string);
          }
          if (v!.secret) {
            const secret = secrets.get(v!.secret.secretName as string);
            expect(secret, `Secret ${v!.secret.secretName}`).toBeDefined();
            for (const item of v!.secret.items as Obj[]) expect(secret!.stringData).toHaveProperty(item.key as string);
            expect(m.readOnly).toBe(true);
          }
        }
        // Every secret *_FILE variable (those the entrypoint reads) points at a file a secret volume provides.
        for (const e of (c.env as Obj[]).filter((x) => /^(SLACK_BOT_TOKEN|SLACK_SIGNING_SECRET|SLACK_APP_TOKEN|REDIS_URL)_FILE$/.test(x.name as string))) {
          const mount = mounts.find((m) => (e.value as string).startsWith(`${m.mountPath}/`));
          expect(mount, `${e.name}`).toBeDefined();
          const items = volumes.get(mount!.name as string)!.secret.items as Obj[];
          expect(items.map((i) => `${mount!.mountPath}/${i.path}`)).toContain(e.value);
        }
      }
    }
  });

  it('sets only variables the product (or the image entrypoint and healthcheck) reads', () => {
    const known = new Set(readFileSync(join(dir, '../../.env.example'), 'utf8').split('\n')
      .map((l) => /^#?\s*([A-Z][A-Z0-9_]*)=/.exec(l)?.[1]).filter(Boolean));
    const imageOnly = new Set(['SLACK_BOT_TOKEN_FILE', 'SLACK_SIGNING_SECRET_FILE', 'SLACK_APP_TOKEN_FILE', 'REDIS_URL_FILE', 'WHY_BLOCKED_HEALTH_URL']);
    for (const d of appDeployments) {
      for (const e of containersOf(d)[0]!.env as Obj[]) expect(known.has(e.name) || imageOnly.has(e.name), `${d.metadata.name}: ${e.name}`).toBe(true);
    }
  });

  it('points the inventory at the mounted SSH key and known_hosts', () => {
    const inventory = ofKind('ConfigMap')[0]!.data['inventory.yml'] as string;
    const worker = appDeployments.find((d) => roleOf(d) === 'worker')!;
    const mounts = (containersOf(worker)[0]!.volumeMounts as Obj[]);
    const key = /privateKey: (\S+)/.exec(inventory)![1]!;
    const knownHosts = /knownHosts: (\S+)/.exec(inventory)![1]!;
    expect(mounts.some((m) => key.startsWith(`${m.mountPath}/`))).toBe(true);
    expect(mounts.map((m) => m.mountPath)).toContain(knownHosts);
  });

  it('ships the Secret only as a template whose values are obvious placeholders', () => {
    const secrets = docs.filter((d) => d.doc.kind === 'Secret');
    expect(secrets.map((s) => s.file)).toEqual(['secret.example.yaml']);
    for (const [key, value] of Object.entries(secrets[0]!.doc.stringData as Record<string, string>)) {
      expect(value.trim(), key).toMatch(/^REPLACE_ME_[A-Z_]+$/);
    }
    const all = files.map((f) => readFileSync(join(dir, f), 'utf8')).join('\n');
    expect(all).not.toMatch(/xox[abp]-[A-Za-z0-9]|xapp-[0-9A-Za-z]|BEGIN [A-Z ]*PRIVATE KEY|AAAA[A-Za-z0-9+/]{40,}/);
    const kustomization = parseAllDocuments(readFileSync(join(dir, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as Obj;
    expect(kustomization.resources).not.toContain('secret.example.yaml');
  });

  it('applies every manifest but the Secret template through kustomization.yaml', () => {
    const kustomization = docs.find((d) => d.doc.kind === 'Kustomization')!.doc;
    for (const r of kustomization.resources as string[]) expect(existsSync(join(dir, r)), r).toBe(true);
    expect([...kustomization.resources as string[], 'secret.example.yaml', 'kustomization.yaml'].sort()).toEqual(files);
  });

  it('runs Redis with AOF and noeviction, or documents the external REDIS_URL option', () => {
    const redis = ofKind('StatefulSet').find((s) => s.metadata.name === 'redis')!;
    const args = (containersOf(redis)[0]!.args as string[]).join(' ');
    expect(args).toMatch(/--appendonly yes/);
    expect(args).toMatch(/--maxmemory-policy noeviction/);
    expect(readFileSync(join(dir, 'redis.yaml'), 'utf8')).toMatch(/external Redis[\s\S]*REDIS_URL/);
  });

  describe('NetworkPolicy', () => {
    const policies = ofKind('NetworkPolicy');
    const policyFor = (role: string) => policies.find((p) => p.spec.podSelector.matchLabels?.['app.kubernetes.io/component'] === role)!;
    const egressPorts = (p: Obj) => (p.spec.egress as Obj[]).flatMap((e) => (e.ports as Obj[] | undefined)?.map((x) => x.port) ?? ['any']);

    it('denies everything by default in the namespace', () => {
      const deny = policies.find((p) => Object.keys(p.spec.podSelector).length === 0);
      expect(deny?.spec.policyTypes).toEqual(['Ingress', 'Egress']);
      expect(deny?.spec.ingress).toBeUndefined();
      expect(deny?.spec.egress).toBeUndefined();
    });

    it('lets into the bot only its PORT, from the ingress controller and monitoring namespaces', () => {
      const bot = policyFor('bot');
      const port = Number(containersOf(appDeployments.find((d) => roleOf(d) === 'bot')!)[0]!.ports[0].containerPort);
      for (const rule of bot.spec.ingress as Obj[]) {
        expect(rule.ports).toEqual([{ protocol: 'TCP', port }]);
        expect(rule.from.every((f: Obj) => f.namespaceSelector !== undefined)).toBe(true);
      }
      expect((bot.spec.ingress as Obj[]).map((r) => r.from[0].namespaceSelector.matchLabels['kubernetes.io/metadata.name'])).toContain('ingress-nginx');
      expect(egressPorts(bot).sort()).toEqual([443, 53, 53, 6379].sort());
      const slack = (bot.spec.egress as Obj[]).find((e) => e.ports[0].port === 443)!;
      expect(slack.to[0].ipBlock.except).toEqual(expect.arrayContaining(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16']));
    });

    it('lets workers reach DNS, Redis and SSH on their target CIDRs', () => {
      for (const w of appDeployments.filter((d) => roleOf(d) === 'worker')) {
        const site = w.spec.template.metadata.labels['why-blocked/site'];
        const p = policies.find((x) => x.spec.podSelector.matchLabels?.['why-blocked/site'] === site);
        expect(p, `policy for site ${site}`).toBeDefined();
        expect(egressPorts(p!)).toEqual(expect.arrayContaining([53, 6379, 22]));
        const ssh = (p!.spec.egress as Obj[]).find((e) => e.ports?.[0]?.port === 22)!;
        expect(ssh.to[0].ipBlock.cidr).toMatch(/\/\d+$/);
      }
    });

    it('lets only why-blocked pods reach Redis', () => {
      const redis = policies.find((p) => p.spec.podSelector.matchLabels?.['app.kubernetes.io/name'] === 'redis')!;
      expect(redis.spec.ingress).toEqual([{ from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'why-blocked' } } }], ports: [{ protocol: 'TCP', port: 6379 }] }]);
    });
  });
});
