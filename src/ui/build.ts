/**
 * Bundles the dashboard view (src/ui/view) into ONE self-contained HTML file:
 * script and styles inlined, no external asset (Claude strips undeclared
 * domains; the default CSP allows none). esbuild is a devDependency: this
 * runs at build time (`npm run build`, scripts/docker-context.sh) or, from
 * the sources, on the server's first read (src/ui/html.ts).
 *
 *   tsx src/ui/build.ts dist/ui/dashboard.html
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'esbuild';

const VIEW_DIR = fileURLToPath(new URL('./view/', import.meta.url));
/** Hosts are asked to keep views small; the spec's hosts load them per conversation. */
export const MAX_HTML_BYTES = 500 * 1024;

/**
 * zod re-exports every locale as a namespace (`z.locales`), which defeats
 * tree shaking: ~260 KB of error messages in 40 languages. The SDK's schemas
 * only use the English one that zod configures itself.
 */
const onlyEnglishZodLocales: Plugin = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]v4[\\/]/.test(args.importer) ? { path: resolve(dirname(args.importer), '../locales/en.js').replace(/en\.js$/, 'index-en-only'), namespace: 'zod-locales' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(args.path.replace(/index-en-only$/, 'en.js'))};`,
      resolveDir: dirname(args.path),
    }));
  },
};

export async function buildDashboardHtml(): Promise<string> {
  const { build } = await import('esbuild');
  const out = await build({
    entryPoints: [resolve(VIEW_DIR, 'main.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    legalComments: 'none',
    charset: 'utf8',
    logLevel: 'silent',
    plugins: [onlyEnglishZodLocales],
  });
  const js = out.outputFiles[0]?.text ?? '';
  const [template, css] = await Promise.all([readFile(resolve(VIEW_DIR, 'index.html'), 'utf8'), readFile(resolve(VIEW_DIR, 'styles.css'), 'utf8')]);
  // `</script` inside the bundle (a string literal) would end the inline script early.
  const script = js.replace(/<\/(script)/gi, '<\\/$1');
  const html = template.replace('<!--STYLE-->', () => `<style>${css}</style>`).replace('<!--SCRIPT-->', () => `<script>${script}</script>`);
  const bytes = Buffer.byteLength(html);
  if (bytes > MAX_HTML_BYTES) throw new Error(`dashboard.html is ${bytes} bytes, over the ${MAX_HTML_BYTES}-byte budget`);
  return html;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const target = process.argv[2];
  if (!target) {
    console.error('usage: tsx src/ui/build.ts OUT.html');
    process.exit(2);
  }
  const html = await buildDashboardHtml();
  await mkdir(dirname(resolve(target)), { recursive: true });
  await writeFile(target, html);
  console.log(`dashboard view: ${(Buffer.byteLength(html) / 1024).toFixed(1)} KiB → ${target}`);
}
