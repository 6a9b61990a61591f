/**
 * `loop-ops-mcp sudoers`: prints the sudoers lines that allow the SSH user
 * exactly the root commands this configuration makes us run (from the same
 * list the SSH pool checks before sending any of them), ready for
 * `visudo -cf` and /etc/sudoers.d/. Needs only the plain config: no secret
 * is read, nothing is contacted.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.js';
import { renderSudoers, targetRootRules, UnscopablePathError } from '../ssh/root-commands.js';
import { VERSION } from '../server.js';

const PROG = 'loop-ops-mcp';

export const SUDOERS_USAGE = `  ${PROG} sudoers [--config FILE] [--target NAME] [--user NAME]
      Print the sudoers lines for the configured NAS user (or NAME): each root
      command we run, as one program with its exact arguments, no shell.
      With targets, one block per target (or only --target NAME's).
      Install: visudo -cf FILE && install -m 0440 FILE /etc/sudoers.d/loop-ops`;

export async function runSudoers(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  const err = (s: string) => process.stderr.write(`${PROG} sudoers: ${s}\n`);
  let values: { config?: string; user?: string; target?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: { config: { type: 'string', short: 'c' }, user: { type: 'string' }, target: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
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
    const targets = values.target === undefined ? config.targets : config.targets.filter((t) => t.name === values.target);
    if (!targets.length) {
      err(`no target "${values.target}" (configured: ${config.targets.map((t) => t.name).join(', ')})`);
      return 2;
    }
    // One file per SSH user and host; several targets print one after the other, each with its header.
    const parts: string[] = [];
    for (const t of targets) {
      const { nas, sudo } = t.apps[0]!.config;
      const user = values.user ?? nas.username;
      const where = config.singleNas ? '' : ` (target ${t.name}: ${nas.host}:${nas.port})`;
      if (sudo.mode === 'none') {
        parts.push(`# loop-ops-mcp ${VERSION}${where}: sudo.mode is "none": nothing runs as root, ${user} needs no sudoers rule.\n`);
        continue;
      }
      const text = renderSudoers(targetRootRules(t.apps), { user, mode: sudo.mode, version: VERSION, source: file });
      parts.push(where ? text.replace(/\n/, `${where}\n`) : text);
    }
    out(parts.join('\n'));
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
