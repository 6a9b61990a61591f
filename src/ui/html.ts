/**
 * The dashboard's HTML. `npm run build` (and scripts/docker-context.sh)
 * write it next to this module as dist/ui/dashboard.html; running from the
 * sources (tsx, vitest) it is bundled on first use with esbuild, a
 * devDependency, so a fresh clone needs no build step before `npm test`.
 */
import { readFile } from 'node:fs/promises';

/** What src/ui/build.ts exports (declared here: the compiled server must not pull the build tooling in). */
interface ViewBuilder {
  buildDashboardHtml(): Promise<string>;
}

let cached: Promise<string> | undefined;

export function loadDashboardHtml(): Promise<string> {
  cached ??= load().catch((e: unknown) => {
    cached = undefined; // a later read may succeed (e.g. after `npm run build`)
    throw e;
  });
  return cached;
}

async function load(): Promise<string> {
  try {
    return await readFile(new URL('./dashboard.html', import.meta.url), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (!import.meta.url.endsWith('.ts')) {
    throw new Error('dist/ui/dashboard.html is missing: run `npm run build` (it bundles the dashboard view)');
  }
  // From the sources: a computed specifier, so tsc never compiles the builder into dist/.
  const builder = (await import(new URL('./build.ts', import.meta.url).href)) as ViewBuilder;
  return builder.buildDashboardHtml();
}
