/**
 * The sudo/READY protocol against a fake channel: what is written to stdin,
 * and when. The same protocol runs against real sudo in the integration tests.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { ClientChannel } from 'ssh2';
import { handlePreamble } from '../../../src/ssh/channel-io.js';
import { SudoError } from '../../../src/ssh/errors.js';

const markers = { prompt: '[P]', ready: '[R]', denied: '[D]' };

function fakeChannel() {
  let onClosed!: () => void;
  const ch = new EventEmitter() as EventEmitter & {
    stderr: EventEmitter;
    written: string[];
    closed: boolean;
    closedP: Promise<void>;
    emitClose(): void;
  };
  ch.stderr = new EventEmitter();
  ch.written = [];
  ch.closed = false;
  ch.closedP = new Promise<void>((r) => (onClosed = r));
  ch.emitClose = () => onClosed();
  Object.assign(ch, {
    write: (s: string) => ch.written.push(s),
    close: () => {
      ch.closed = true;
      onClosed();
    },
  });
  return ch;
}
const asChannel = (c: ReturnType<typeof fakeChannel>) => c as unknown as ClientChannel;

describe('handlePreamble', () => {
  it('answers our prompt with the password once, then resolves with the PID', async () => {
    const ch = fakeChannel();
    const pre = handlePreamble(asChannel(ch), ch.closedP, markers, 'pw', 'admin');
    const seen: string[] = [];
    pre.onStderr((b) => seen.push(b.toString()));
    ch.stderr.emit('data', Buffer.from('[P]'));
    expect(ch.written).toEqual(['pw\n']);
    ch.stderr.emit('data', Buffer.from('[R] 4242\nfirst real stderr line\n'));
    await expect(pre.ready).resolves.toBe(4242);
    expect(seen.join('')).toBe('first real stderr line\n');
  });

  it('never writes the password when the command starts without a prompt (NOPASSWD)', async () => {
    const ch = fakeChannel();
    const pre = handlePreamble(asChannel(ch), ch.closedP, markers, 'pw', 'admin');
    ch.stderr.emit('data', Buffer.from('[R] 7\n'));
    await expect(pre.ready).resolves.toBe(7);
    ch.stderr.emit('data', Buffer.from('[P]')); // the command itself printing our prompt text later
    expect(ch.written).toEqual([]);
  });

  it('fails with SudoError on a second prompt (wrong password) and closes the channel', async () => {
    const ch = fakeChannel();
    const pre = handlePreamble(asChannel(ch), ch.closedP, markers, 'wrong', 'admin');
    ch.stderr.emit('data', Buffer.from('[P]'));
    ch.stderr.emit('data', Buffer.from('Sorry, try again.\n[P]'));
    await expect(pre.ready).rejects.toBeInstanceOf(SudoError);
    expect(ch.written).toEqual(['wrong\n']);
    expect(ch.closed).toBe(true);
  });

  it('handles markers split across chunks', async () => {
    const ch = fakeChannel();
    const pre = handlePreamble(asChannel(ch), ch.closedP, markers, 'pw', 'admin');
    for (const part of ['[', 'P', ']', '[R', '] 1', '2\n']) ch.stderr.emit('data', Buffer.from(part));
    await expect(pre.ready).resolves.toBe(12);
    expect(ch.written).toEqual(['pw\n']);
  });

  it('reports sudo failures in sudo words when the command never starts', async () => {
    const ch = fakeChannel();
    const pre = handlePreamble(asChannel(ch), ch.closedP, markers, undefined, 'admin');
    ch.stderr.emit('data', Buffer.from('sudo: a password is required\n'));
    ch.emitClose();
    await expect(pre.ready).rejects.toThrow(/sudo on the NAS failed: sudo: a password is required/);
  });

  it('says sudoers does not allow the command when the wrapper reports DENIED instead of READY', async () => {
    const ch = fakeChannel();
    const pre = handlePreamble(asChannel(ch), ch.closedP, markers, 'pw', 'loopops', '/usr/bin/docker');
    ch.stderr.emit('data', Buffer.from('[P]'));
    ch.stderr.emit('data', Buffer.from('[D]\n'));
    ch.emitClose();
    const err = await pre.ready.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SudoError);
    expect((err as Error).message).toBe('sudo on the NAS does not allow loopops to run /usr/bin/docker as loop-ops-mcp needs it');
    expect((err as SudoError).hint).toMatch(/loop-ops-mcp sudoers/);
  });

  it('refuses to answer a prompt when no password is configured', async () => {
    const ch = fakeChannel();
    const pre = handlePreamble(asChannel(ch), ch.closedP, markers, undefined, 'admin');
    ch.stderr.emit('data', Buffer.from('[P]'));
    await expect(pre.ready).rejects.toThrow(/none is configured/);
    expect(ch.written).toEqual([]);
  });
});
