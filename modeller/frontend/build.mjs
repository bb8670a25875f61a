#!/usr/bin/env node
// Build the Baton browser bundles.
//
//   cd modeller/frontend && npm ci --ignore-scripts && node build.mjs
//
// Output (git-ignored) in ../static/build/:
//   modeller.js, modeller.css   modeller page (bpmn-js modeler, properties panel,
//                               lint, minimap, token simulation)
//   viewer.js, viewer.css       read-only instance view (NavigatedViewer)
//   assets/bpmn-*.{woff2,...}   bpmn icon font, referenced by modeller.css
//   THIRD_PARTY_LICENSES.txt    licences of every bundled npm package
//
// The bpmnlint configuration (.bpmnlintrc) speaks only of what fails in Baton: bpmnlint's recommended
// rules, less those about what SpiffWorkflow runs fine — a loop back into a task (`fake-join`),
// inclusive gateways — and with style (`label-required`, implicit splits, a gateway that both joins
// and forks) as warnings, plus Baton's own rules (bpmnlint-plugin-baton/: parallel branches that meet
// at a step without a gateway, which runs it once per branch). It is compiled on the fly into a
// virtual module `baton:bpmnlint-config`, nothing is written to src/.

import { createRequire } from 'node:module';
import { readFileSync, existsSync, mkdirSync, rmSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as esbuild from 'esbuild';

const require = createRequire(import.meta.url);
const compileConfig = require('bpmnlint/lib/support/compile-config');

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.resolve(here, '..', 'static', 'build');
const watch = process.argv.includes('--watch');

const LINT_CONFIG_MODULE = 'baton:bpmnlint-config';

/** esbuild plugin: `import lintConfig from 'baton:bpmnlint-config'`. */
const bpmnlintConfigPlugin = {
  name: 'bpmnlint-config',
  setup(build) {
    build.onResolve({ filter: /^baton:bpmnlint-config$/ }, (args) => ({
      path: args.path,
      namespace: 'bpmnlint-config'
    }));

    build.onLoad({ filter: /.*/, namespace: 'bpmnlint-config' }, async () => {
      const rcPath = path.join(here, '.bpmnlintrc');
      const config = JSON.parse(readFileSync(rcPath, 'utf8'));

      return {
        contents: await compileConfig(config),
        loader: 'js',
        resolveDir: here,
        watchFiles: [ rcPath ]
      };
    });
  }
};

/**
 * esbuild plugin: keep the bundle free of style="" attributes in markup, which
 * a strict Content-Security-Policy (style-src without 'unsafe-inline') blocks.
 *
 *  - every `min-dom` import gets src/csp-safe-dom.js (domify applies style
 *    attributes through element.style instead);
 *  - bpmn-js' align / distribute icons (inline SVG rendered by the popup menu)
 *    get SVG presentation attributes instead of style="".
 */
const cspSafeDom = path.join(here, 'src', 'csp-safe-dom.js');

const cspPlugin = {
  name: 'csp-safe-markup',
  setup(build) {
    build.onResolve({ filter: /^min-dom$/ }, (args) => {
      if (args.importer === cspSafeDom) {
        return undefined;
      }

      return { path: cspSafeDom };
    });

    build.onLoad({ filter: /bpmn-js[\\/]lib[\\/]features[\\/](align|distribute)-elements[\\/]\w+Icons\.js$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');

      let count = 0;

      const contents = source.replace(/\sstyle="([^"]*)"/g, (match, declarations) => {
        count++;

        return declarations.split(';').map((declaration) => declaration.trim()).filter(Boolean).map((declaration) => {
          const [ property, ...value ] = declaration.split(':');

          return ` ${property.trim()}="${value.join(':').trim()}"`;
        }).join('');
      });

      if (!count) {
        throw new Error(`csp-safe-markup: no style attributes found in ${args.path}, check the patch`);
      }

      return { contents, loader: 'js' };
    });
  }
};

/** List the npm packages that ended up in the bundles, with their licences. */
function writeLicenses(metafile) {
  const packages = new Map();

  for (const input of Object.keys(metafile.inputs)) {
    const match = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);

    if (!match) {
      continue;
    }

    const dir = input.slice(0, match.index + match[0].length);

    if (!packages.has(match[1])) {
      packages.set(match[1], path.resolve(here, dir));
    }
  }

  const sections = [ ...packages.entries() ].sort(([ a ], [ b ]) => a.localeCompare(b)).map(([ name, dir ]) => {
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
    const licenseFile = readdirSync(dir).find((file) => /^(licen[cs]e|copying)(\.|$)/i.test(file));
    const text = licenseFile
      ? readFileSync(path.join(dir, licenseFile), 'utf8').trim()
      : `(the package ships no licence file; its package.json declares ${pkg.license || 'no licence'})`;

    return `${name}@${pkg.version} (${pkg.license || 'see below'})\n\n${text}\n`;
  });

  writeFileSync(
    path.join(outdir, 'THIRD_PARTY_LICENSES.txt'),
    'Third-party packages bundled into modeller.js / viewer.js\n\n' +
    sections.join('\n' + '-'.repeat(72) + '\n\n')
  );

  return packages.size;
}

const options = {
  entryPoints: {
    modeller: path.join(here, 'src', 'modeller-page.js'),
    viewer: path.join(here, 'src', 'viewer-page.js')
  },
  outdir,
  bundle: true,
  format: 'iife',
  minify: true,
  sourcemap: true,
  target: [ 'es2020', 'chrome100', 'firefox100', 'safari15' ],
  legalComments: 'eof',
  charset: 'utf8',
  assetNames: 'assets/[name]-[hash]',
  loader: {
    '.eot': 'file',
    '.woff': 'file',
    '.woff2': 'file',
    '.ttf': 'file',
    '.svg': 'file'
  },
  define: {
    'process.env.NODE_ENV': '"production"'
  },
  metafile: true,
  logLevel: 'warning',
  plugins: [ bpmnlintConfigPlugin, cspPlugin ]
};

const started = Date.now();

if (existsSync(outdir)) {
  rmSync(outdir, { recursive: true, force: true });
}

mkdirSync(outdir, { recursive: true });

if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
  console.log(`watching, writing to ${outdir} (Ctrl+C to stop)`);
} else {
  const result = await esbuild.build(options);
  const licensed = writeLicenses(result.metafile);

  const files = readdirSync(outdir).filter((file) => /\.(js|css)$/.test(file)).sort();

  for (const file of files) {
    const size = statSync(path.join(outdir, file)).size;
    console.log(`  ${path.relative(process.cwd(), path.join(outdir, file))}  ${(size / 1024).toFixed(0)} KB`);
  }

  console.log(`built ${files.length} files (${licensed} bundled packages) in ${Date.now() - started} ms`);
}
