/** Small statistics helpers shared by the benchmarks. */
export interface Stats {
  n: number;
  median: number;
  p95: number;
  min: number;
  max: number;
}

function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

export function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  return { n: s.length, median: quantile(s, 0.5), p95: quantile(s, 0.95), min: s[0] ?? NaN, max: s[s.length - 1] ?? NaN };
}

/** `n` timed calls of `fn` after `warmup` untimed ones, one after the other. */
export async function timed(n: number, fn: () => Promise<unknown> | unknown, warmup = 3): Promise<Stats> {
  for (let i = 0; i < warmup; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return stats(out);
}

/** A Markdown table: one row per way, with its speed-up against the baseline median. */
export function table(rows: Array<[string, Stats]>, baselineMedian: number, baselineName: string): string {
  const out = [`| way | n | median ms | p95 ms | × faster than ${baselineName} |`, '|---|---:|---:|---:|---:|'];
  for (const [name, s] of rows) {
    out.push(`| ${name} | ${s.n} | ${s.median.toFixed(2)} | ${s.p95.toFixed(2)} | ${(baselineMedian / s.median).toFixed(1)} |`);
  }
  return out.join('\n');
}
