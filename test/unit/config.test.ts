import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, envOverrides, keepPreviousPolicy, loadConfig as loadRoot, type LoadOptions } from '../../src/config.js';
import { blueGreenConfig } from '../../src/config/targets.js';

/** The single-NAS file's one app view (what these tests check), plus the root. */
function loadConfig(opts: LoadOptions) {
  const { config: root, secrets } = loadRoot(opts);
  return { config: blueGreenConfig(root), root, secrets };
}

const FP = 'SHA256:' + 'A'.repeat(43);

function writeConfig(text: string, name = 'config.yaml'): string {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

const minimal = `
nas:
  host: nas.local
  username: admin
  privateKeyPath: ./id_ed25519
  hostKeyFingerprint: "${FP}"
`;

describe('loadConfig', () => {
  it('fills in defaults that describe the owner setup', () => {
    const file = writeConfig(minimal);
    const { config, secrets } = loadConfig({ file, env: { LOOP_OPS_SUDO_PASSWORD: 's3cret!' } });
    expect(config.app).toMatchObject({
      name: 'loop-api',
      frontPort: 8082,
      containerPort: 8081,
      healthPath: '/health',
      network: 'loop_default',
      watch: ['loop-auth'],
    });
    expect(config.app.oauthKeysDir).toMatch(/^\//);
    expect(config.docker.binary).toBe('/var/packages/ContainerManager/target/usr/bin/docker');
    expect(config.sudo.mode).toBe('password');
    expect(config.nas.port).toBe(22);
    expect(config.server.host).toBe('127.0.0.1');
    // relative paths resolve against the config file's directory
    expect(config.nas.privateKeyPath).toBe(join(file, '..', 'id_ed25519'));
    expect(secrets.sudoPassword).toBe('s3cret!');
    // the config object itself never carries the secret
    expect(JSON.stringify(config)).not.toContain('s3cret!');
  });

  it('reads JSON too', () => {
    const file = writeConfig(
      JSON.stringify({ nas: { username: 'admin', useAgent: true, knownHostsPath: '/etc/ssh/kh' }, sudo: { mode: 'none' } }),
      'c.json',
    );
    expect(loadConfig({ file, env: {} }).config.nas.useAgent).toBe(true);
  });

  it('applies LOOP_OPS__SECTION__KEY overrides with JSON-ish values', () => {
    const file = writeConfig(minimal);
    const { config } = loadConfig({
      file,
      env: {
        LOOP_OPS__NAS__PORT: '2222',
        LOOP_OPS__SERVER__READ_ONLY: 'true',
        LOOP_OPS__APP__WATCH: '["loop-auth","redis"]',
        LOOP_OPS__SUDO__MODE: 'nopasswd',
        LOOP_OPS__APP__HEALTH_PATH: '/up',
      },
    });
    expect(config.nas.port).toBe(2222);
    expect(config.server.readOnly).toBe(true);
    expect(config.app.watch).toEqual(['loop-auth', 'redis']);
    expect(config.sudo.mode).toBe('nopasswd');
    expect(config.app.healthPath).toBe('/up');
  });

  it('ignores prototype-polluting env names', () => {
    expect(envOverrides({ LOOP_OPS____PROTO____X: '1', LOOP_OPS__CONSTRUCTOR__A: '1' })).toEqual({});
  });

  it('reads secrets from *_FILE variables and configured files, stripping one newline', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sec-'));
    writeFileSync(join(dir, 'pw'), 'from-file\n');
    writeFileSync(join(dir, 'tok'), 'tok-from-config-file');
    const file = writeConfig(`${minimal}\nsudo:\n  passwordFile: ${join(dir, 'pw')}\nserver:\n  tokenFile: ${join(dir, 'tok')}\n`);
    const { secrets } = loadConfig({ file, env: {} });
    expect(secrets.sudoPassword).toBe('from-file');
    expect(secrets.apiToken).toBe('tok-from-config-file');
    const env = loadConfig({ file, env: { LOOP_OPS_TOKEN_FILE: join(dir, 'pw') } });
    expect(env.secrets.apiToken).toBe('from-file');
  });

  it('refuses secrets written inline in the file', () => {
    const file = writeConfig(`${minimal}\nsudo:\n  mode: password\n  password: hunter2\n`);
    const problems = problemsOf(() => loadConfig({ file, env: { LOOP_OPS_SUDO_PASSWORD: 'x' } }));
    expect(problems.join('\n')).toContain('sudo.password: secrets may not be written in the config file');
    expect(problems.join('\n')).not.toContain('hunter2');
  });

  it('reports every problem, one clear line each', () => {
    const file = writeConfig(`
nas:
  port: 70000
  username: "bad user;"
app:
  name: "loop api"
  frontPort: 18081
  checkoutDir: relative/path
  healthPath: health
sudo:
  mode: maybe
bogus: 1
`);
    const problems = problemsOf(() => loadConfig({ file, env: {} }));
    const text = problems.join('\n');
    expect(text).toContain('nas.port');
    expect(text).toContain('nas.username');
    expect(text).toContain('app.name');
    expect(text).toContain('app.checkoutDir: must be an absolute path');
    expect(text).toContain('app.healthPath');
    expect(text).toContain('sudo.mode');
    expect(text).toMatch(/bogus/);
    for (const p of problems) expect(p).not.toContain('\n');
  });

  it('requires a pinned host key and a login method', () => {
    const file = writeConfig(`nas:\n  username: admin\nsudo:\n  mode: none\n`);
    const text = problemsOf(() => loadConfig({ file, env: {} })).join('\n');
    expect(text).toContain('a host key must be pinned');
  });

  it('requires the sudo password in password mode', () => {
    const file = writeConfig(minimal);
    expect(problemsOf(() => loadConfig({ file, env: {} })).join('\n')).toContain('no password was given');
  });

  it('says so when the file is missing or not YAML', () => {
    expect(problemsOf(() => loadConfig({ file: '/nonexistent/c.yaml', env: {} }))[0]).toContain('cannot read config file');
    const bad = writeConfig('nas: [unclosed');
    expect(problemsOf(() => loadConfig({ file: bad, env: {} }))[0]).toContain('not valid YAML/JSON');
  });

  it('rejects a malformed fingerprint with the expected shape in the message', () => {
    const file = writeConfig(minimal.replace(FP, 'MD5:aa:bb'));
    expect(problemsOf(() => loadConfig({ file, env: { LOOP_OPS_SUDO_PASSWORD: 'x' } })).join('\n')).toContain('SHA256:');
  });
});

describe('version retention settings', () => {
  const load = (deploy: string, env: Record<string, string> = {}) =>
    loadConfig({ file: writeConfig(`${minimal}\n${deploy}`), env: { LOOP_OPS_SUDO_PASSWORD: 'x', ...env } }).config.deploy;

  it('defaults: previous color kept running, 5 images beside live and previous', () => {
    expect(load('')).toMatchObject({ keepPrevious: 'running', retainImages: 5 });
  });

  it('keepPrevious: running, stopped or minutes (from YAML or an env override)', () => {
    expect(load('deploy:\n  keepPrevious: stopped\n').keepPrevious).toBe('stopped');
    expect(load('deploy:\n  keepPrevious: "30"\n').keepPrevious).toBe('30');
    expect(load('deploy:\n  keepPrevious: 45\n').keepPrevious).toBe('45');
    expect(load('', { LOOP_OPS__DEPLOY__KEEP_PREVIOUS: '30' }).keepPrevious).toBe('30');
    expect(keepPreviousPolicy('running')).toEqual({ mode: 'running' });
    expect(keepPreviousPolicy('stopped')).toEqual({ mode: 'stopped' });
    expect(keepPreviousPolicy('30')).toEqual({ mode: 'timed', minutes: 30 });
  });

  it.each(['"0"', '"-5"', '"30m"', 'later', '99999', '1.5'])('refuses keepPrevious %s', (v) => {
    const problems = problemsOf(() => load(`deploy:\n  keepPrevious: ${v}\n`));
    expect(problems.join('\n')).toMatch(/deploy\.keepPrevious/);
  });

  it('retainImages: 0 to 100', () => {
    expect(load('deploy:\n  retainImages: 0\n').retainImages).toBe(0);
    expect(problemsOf(() => load('deploy:\n  retainImages: -1\n')).join('\n')).toMatch(/deploy\.retainImages/);
    expect(problemsOf(() => load('deploy:\n  retainImages: 1000\n')).join('\n')).toMatch(/deploy\.retainImages/);
  });
});

describe('HTTP limits and auth.trustProxy', () => {
  const env = { LOOP_OPS_SUDO_PASSWORD: 'x' };
  const load = (extra: string, more: Record<string, string> = {}) => loadConfig({ file: writeConfig(minimal + extra), env: { ...env, ...more } });

  it('defaults: small pre-auth limit, per-principal limit, timeouts, connection and session caps', () => {
    const { config } = load('');
    expect(config.server).toMatchObject({
      rateLimitPerMinute: 600,
      preAuthRateLimitPerMinute: 60,
      headersTimeoutMs: 20_000,
      requestTimeoutMs: 60_000,
      maxConnections: 256,
      maxSessions: 100,
      maxSessionsPerPrincipal: 20,
    });
    expect(config.auth.trustProxy).toBe(false);
  });

  it('refuses trustProxy: true with one clear line, from the file or the env', () => {
    const problems = problemsOf(() => load('auth:\n  trustProxy: true\n'));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^auth\.trustProxy: true would trust every X-Forwarded-For entry/);
    expect(problems[0]).toMatch(/bypass the rate limits and the passphrase throttle/);
    expect(problems[0]).toMatch(/number of reverse proxies in front \(e\.g\. 1\)/);
    expect(problemsOf(() => load('', { LOOP_OPS__AUTH__TRUST_PROXY: 'true' }))[0]).toMatch(/^auth\.trustProxy: true would trust/);
  });

  it('accepts false, hop counts, and proxy addresses or subnets', () => {
    expect(load('auth:\n  trustProxy: false\n').config.auth.trustProxy).toBe(false);
    expect(load('auth:\n  trustProxy: 1\n').config.auth.trustProxy).toBe(1);
    expect(load('auth:\n  trustProxy: "127.0.0.1"\n').config.auth.trustProxy).toBe('127.0.0.1');
    expect(load('auth:\n  trustProxy: "loopback, 10.0.0.0/8"\n').config.auth.trustProxy).toBe('loopback, 10.0.0.0/8');
    expect(load('auth:\n  trustProxy: ["172.16.0.0/12", "fd00::/8", "::1"]\n').config.auth.trustProxy).toEqual(['172.16.0.0/12', 'fd00::/8', '::1']);
    for (const bad of ['"yes"', '"10.0.0.0/33"', '"not-an-ip"', '["10.0.0.1", "*"]', '11']) {
      expect(problemsOf(() => load(`auth:\n  trustProxy: ${bad}\n`)).join('\n'), bad).toMatch(/^auth\.trustProxy/);
    }
  });

  it('checks the limits: header timeout within the request timeout, per-principal sessions within the total', () => {
    const text = problemsOf(() =>
      load('server:\n  headersTimeoutMs: 90000\n  requestTimeoutMs: 60000\n  maxSessions: 10\n  maxSessionsPerPrincipal: 11\n'),
    ).join('\n');
    expect(text).toContain('server.headersTimeoutMs: must not exceed server.requestTimeoutMs');
    expect(text).toContain('server.maxSessionsPerPrincipal: must not exceed server.maxSessions');
  });
});

describe('notify and metrics config', () => {
  it('moves webhook URLs to the secrets, by index, from url or urlFile; the config keeps the format only', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'slack-url'), 'https://hooks.slack.com/services/T0/B0/tokentokentoken\n');
    const file = join(dir, 'config.yaml');
    writeFileSync(
      file,
      `${minimal}
notify:
  webhooks:
    - url: https://ntfy.sh/my-secret-topic-42
      format: ntfy
    - urlFile: slack-url
      format: slack
    - url: https://example.com/hook?token=abc
`,
    );
    const { config, secrets } = loadConfig({ file, env: { LOOP_OPS_SUDO_PASSWORD: 's3cret!' } });
    expect(secrets.webhookUrls).toEqual(['https://ntfy.sh/my-secret-topic-42', 'https://hooks.slack.com/services/T0/B0/tokentokentoken', 'https://example.com/hook?token=abc']);
    expect(config.notify.webhooks.map((w) => w.format)).toEqual(['ntfy', 'slack', 'json']);
    expect(JSON.stringify(config)).not.toContain('my-secret-topic');
    expect(config.notify).toMatchObject({ timeoutMs: 5000, retries: 3, queueMax: 100 });
    expect(config.metrics).toEqual({ enabled: true, processMetrics: true });
  });

  it('refuses a webhook with both or neither of url/urlFile, an unknown format, a non-http URL', () => {
    const p = problemsOf(() =>
      loadConfig({
        env: {
          LOOP_OPS_SUDO_PASSWORD: 'x',
          LOOP_OPS__NAS__USERNAME: 'admin',
          LOOP_OPS__NAS__PRIVATE_KEY_PATH: '/k',
          LOOP_OPS__NAS__HOST_KEY_FINGERPRINT: FP,
          LOOP_OPS__NOTIFY__WEBHOOKS: '[{"format":"json"},{"url":"https://a.example/x","format":"teams"},{"url":"ftp://a.example/x"}]',
        },
      }),
    );
    expect(p.join('\n')).toMatch(/notify\.webhooks\.0.*exactly one of url and urlFile/);
    expect(p.join('\n')).toMatch(/notify\.webhooks\.1\.format/);
    expect(p.join('\n')).toMatch(/notify\.webhooks\.2\.url/);
  });
});
