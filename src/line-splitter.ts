/**
 * The one way this server cuts a byte stream into lines (SSH command output,
 * build output, Docker log frames). A stream may print megabytes without a
 * newline: each byte is looked at once (Buffer.indexOf, no re-joining of the
 * partial line per chunk), and a partial line keeps at most `maxLineBytes`;
 * the rest of that line is counted, dropped, and the line is marked as cut.
 */

export const DEFAULT_MAX_LINE_BYTES = 16 * 1024;

export interface LineInfo {
  /** The line was longer than the cap: `text` holds its start plus a marker. */
  truncated: boolean;
  /** Bytes of the line that were dropped (0 when not truncated). */
  cutBytes: number;
}

export interface LineSplitterOptions {
  /** Bytes kept of one line (default 16 KiB). */
  maxLineBytes?: number;
  /** Text appended to a cut line (default ` … [N bytes cut]`). */
  marker?: (cutBytes: number) => string;
}

const defaultMarker = (cut: number) => ` … [${cut} bytes cut]`;

/** Where to end a cut so a multi-byte UTF-8 character is not split. */
function utf8Boundary(buf: Buffer, end: number): number {
  let i = end;
  // Step back over continuation bytes (10xxxxxx) to the lead byte of the last character…
  while (i > 0 && i > end - 4 && (buf[i - 1]! & 0xc0) === 0x80) i--;
  if (i === 0) return end;
  const lead = buf[i - 1]!;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  // …and keep that character only if all of its bytes fit before `end`.
  return end - (i - 1) >= need ? end : i - 1;
}

export class LineSplitter {
  private readonly max: number;
  private readonly marker: (cut: number) => string;
  /** The current partial line, at most `max` bytes in all. */
  private parts: Buffer[] = [];
  private kept = 0;
  private cut = 0;

  constructor(
    private readonly onLine: (line: string, info: LineInfo) => void,
    opts: LineSplitterOptions = {},
  ) {
    this.max = Math.max(16, opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
    this.marker = opts.marker ?? defaultMarker;
  }

  push(chunk: Buffer | string): void {
    const b = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    let start = 0;
    for (;;) {
      const nl = b.indexOf(0x0a, start);
      if (nl < 0) {
        this.keep(b, start, b.length);
        return;
      }
      this.keep(b, start, nl);
      this.flush(true);
      start = nl + 1;
    }
  }

  /** Bytes held for the current partial line (never more than the cap). */
  get pendingBytes(): number {
    return this.kept;
  }

  /** Delivers the last line if the stream did not end with a newline. */
  end(): void {
    if (this.kept > 0 || this.cut > 0) this.flush(false);
  }

  private keep(b: Buffer, from: number, to: number): void {
    if (to <= from) return;
    const room = this.max - this.kept;
    if (room <= 0) {
      this.cut += to - from;
      return;
    }
    const take = Math.min(room, to - from);
    // Copy: the caller's chunk may be a slice of a large pooled buffer.
    this.parts.push(Buffer.from(b.subarray(from, from + take)));
    this.kept += take;
    this.cut += to - from - take;
  }

  private flush(newline: boolean): void {
    let buf = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.kept);
    let cut = this.cut;
    if (cut > 0) {
      const end = utf8Boundary(buf, buf.length);
      cut += buf.length - end;
      buf = buf.subarray(0, end);
    }
    this.parts = [];
    this.kept = 0;
    this.cut = 0;
    let text = buf.toString('utf8');
    // A CRLF line ends in CR before the LF we split on (not when the CR was cut off).
    if (newline && cut === 0 && text.endsWith('\r')) text = text.slice(0, -1);
    if (cut > 0) text += this.marker(cut);
    this.onLine(text, { truncated: cut > 0, cutBytes: cut });
  }
}

/** Splits a whole text the same way (bounded lines); no trailing empty line. */
export function splitBoundedLines(text: string | Buffer, opts: LineSplitterOptions = {}): string[] {
  const out: string[] = [];
  const s = new LineSplitter((l) => out.push(l), opts);
  s.push(text);
  s.end();
  return out;
}
