/**
 * `loop-ops-mcp sudoers`: prints the sudoers lines that allow the SSH user
 * exactly the root commands this configuration makes us run (from the same
 * list the SSH pool checks before sending any of them), ready for
 * `visudo -cf` and /etc/sudoers.d/. Needs only the plain config: no secret
 * is read, nothing is contacted.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.js';
import { renderSudoers, rootRules, UnscopablePathError } from '../ssh/root-commands.js';
import { VERSION } from '../server.js';

const PROG = 'loop-ops-mcp';

export const SUDOERS_USAGE = `  ${PROG} sudoers [--config FILE] [--user NAME]
      Print the sudoers lines for the configured NAS user (or NAME): each root
      command we run, as one program with its exact arguments, no shell.
      Install: visudo -cf FILE && install -m 0440 FILE /etc/sudoers.d/loop-ops`;

export async function runSudoers(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  const err = (s: string) => process.stderr.write(`${PROG} sudoers: ${s}\n`);
  let values: { config?: string; user?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: { config: { type: 'string', short: 'c' }, user: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (e) {
    err((e as Error).message);
    return 2;
  }
  if (values.help) {
    out(`Usage:\n${SUDOERS_USAGE}\n`);
    return 0;
  }
  const file = values.config ?? (process.env.LOOP_OPS_CONFIG || undefined);
  try {
    const { config } = loadConfig({ file, withoutSecrets: true });
    const user = values.user ?? config.nas.username;
    if (config.sudo.mode === 'none') {
      out(`# loop-ops-mcp ${VERSION}: sudo.mode is "none": nothing runs as root, ${user} needs no sudoers rule.\n`);
      return 0;
    }
    out(renderSudoers(rootRules(config), { user, mode: config.sudo.mode, version: VERSION, source: file }));
    return 0;
  } catch (e) {
    if (e instanceof ConfigError) {
      for (const p of e.problems) err(`config: ${p}`);
      return 2;
    }
    if (e instanceof UnscopablePathError || (e instanceof Error && /not a plain user name/.test(e.message))) {
      err(e.message);
      return 2;
    }
    throw e;
  }
}
