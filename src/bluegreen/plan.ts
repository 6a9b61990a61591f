/**
 * Dry-run plans. A step that runs a remote command carries the very
 * RemoteCommand the operation executes (built by the same function in
 * commands.ts), so the plan shows the exact argv; steps that go through the
 * Docker Engine API or nginx's switch say what they do in words.
 */
import { showCommand, type RemoteCommand } from './commands.js';

export interface PlanStep {
  step: string;
  /** One line for people: the command, or what the step does. */
  detail: string;
  /** The exact argv run on the NAS, when the step is a command. */
  argv?: string[];
  sudo?: boolean;
}

export const commandStep = (step: string, c: RemoteCommand, note?: string): PlanStep => ({
  step,
  detail: `${showCommand(c)}${note ? ` (${note})` : ''}`,
  argv: c.argv,
  sudo: c.sudo,
});

export const noteStep = (step: string, detail: string): PlanStep => ({ step, detail });

export const planText = (steps: PlanStep[]) => steps.map((s, i) => `${i + 1}. ${s.step}: ${s.detail}`).join('\n');
