/**
 * `loop-ops-mcp oauth-clients list | revoke CLIENT_ID`: the OAuth clients
 * this server knows (registered or known by their metadata document), with
 * their live consents; revoke ends one client's access at once (the running
 * server picks the change up at its next request).
 *
 * Reads `auth.oauth.stateFile` from the configuration; no NAS connection.
 */
import { listClients, revokeClientInFile, type ClientSummary } from '../auth/admin.js';
import { StateFileError } from '../auth/store.js';
import { ConfigError, loadConfig } from '../config.js';
import { HumanUsageError, parseVerbArgs } from './human.js';

const PROG = 'loop-ops-mcp';
export const OAUTH_CLIENTS_VERB = 'oauth-clients';

export const OAUTH_CLIENTS_USAGE = `  ${PROG} oauth-clients list | revoke CLIENT_ID
      The OAuth clients in auth.oauth.stateFile and their live consents;
      revoke ends a client's access at once (also in the running server).
      Takes --config FILE and --json.`;

interface Io {
  out: { write(s: string): unknown };
  err: { write(s: string): unknown };
}

function table(clients: ClientSummary[]): string {
  if (!clients.length) return 'No OAuth clients.\n';
  const lines = clients.map((c) => {
    const hosts = [...new Set(c.redirect_uris.map((u) => URL.canParse(u) ? new URL(u).host : u))].join(',');
    return [
      c.client_id,
      JSON.stringify(c.client_name ?? ''),
      c.kind,
      hosts,
      c.registered_at.slice(0, 16).replace('T', ' '),
      c.grants ? `${c.grants} consent(s): ${c.scopes.join(' ')}` : 'no consent',
    ];
  });
  const head = ['CLIENT_ID', 'NAME', 'KIND', 'RETURNS TO', 'REGISTERED (UTC)', 'ACCESS'];
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (row: string[]) => row.map((v, i) => (i === row.length - 1 ? v : v.padEnd(widths[i]!))).join('  ');
  return `${[fmt(head), ...lines.map(fmt)].join('\n')}\n`;
}

export async function runOAuthClients(argv: string[], io: Io = { out: process.stdout, err: process.stderr }): Promise<number> {
  const say = (s: string) => io.err.write(`${PROG}: ${s}\n`);
  let action: string | undefined;
  let id: string | undefined;
  let flags: ReturnType<typeof parseVerbArgs>['common'];
  try {
    const p = parseVerbArgs(argv, {});
    flags = p.common;
    [action, id] = p.positionals;
    if (!flags.help) {
      if (action !== 'list' && action !== 'revoke') throw new HumanUsageError(action ? `unknown action: ${action} (list or revoke)` : 'missing action: list or revoke');
      if (action === 'list' && p.positionals.length > 1) throw new HumanUsageError(`unexpected argument: ${p.positionals[1]}`);
      if (action === 'revoke' && (!id || p.positionals.length > 2)) throw new HumanUsageError('revoke needs exactly one CLIENT_ID (see oauth-clients list)');
    }
  } catch (e) {
    if (!(e instanceof HumanUsageError)) throw e;
    say(e.message);
    io.err.write(`usage:\n${OAUTH_CLIENTS_USAGE}\n`);
    return 2;
  }
  if (flags.help) {
    io.out.write(`Usage:\n${OAUTH_CLIENTS_USAGE}\n`);
    return 0;
  }
  let stateFile: string | undefined;
  try {
    stateFile = loadConfig({ file: flags.config }).config.auth.oauth.stateFile;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const pr of e.problems) say(`config: ${pr}`);
    return 2;
  }
  if (!stateFile) {
    say('config: auth.oauth.stateFile is not set (OAuth is not configured)');
    return 2;
  }
  try {
    if (action === 'list') {
      const clients = listClients(stateFile);
      io.out.write(flags.json ? `${JSON.stringify({ clients }, null, 2)}\n` : table(clients));
      return 0;
    }
    const { revoked } = revokeClientInFile(stateFile, id!);
    if (!revoked) {
      say(`no OAuth client ${JSON.stringify(id)} (see oauth-clients list): nothing was changed`);
      return 1;
    }
    if (flags.json) io.out.write(`${JSON.stringify({ revoked }, null, 2)}\n`);
    else io.out.write(`Revoked ${revoked.client_id} (${revoked.client_name ?? 'unnamed'}): ${revoked.grants} consent(s) and their tokens ended.\n`);
    return 0;
  } catch (e) {
    if (e instanceof StateFileError) {
      say(e.message);
      return 1;
    }
    const code = (e as NodeJS.ErrnoException).code;
    if (code) {
      say(`cannot update ${stateFile}: ${code}`);
      return 1;
    }
    throw e;
  }
}
