import type { TObject } from 'typebox';
import { configLeaves, describeExpected } from './config.js';

/** The configuration reference in Markdown, generated from the schema so it cannot drift from the code. */
export function configReference(schema: TObject): string {
  const lines = [
    '# Configuration reference',
    '',
    'Generated from the configuration schema by `npm run docs:config`; a test fails when it is out of date.',
    '',
    'Precedence: defaults, then the config file (`--config FILE`, YAML or JSON, nested by section), then environment',
    'variables. Lists in variables are comma-separated.',
    '',
  ];
  let section = '';
  for (const leaf of configLeaves(schema)) {
    const [head] = leaf.path;
    if (head !== section) {
      section = head!;
      lines.push(
        `## ${section}`,
        '',
        '| key | variable | default | expected | description |',
        '|---|---|---|---|---|',
      );
    }
    const schemaDefault = (leaf.schema as { default?: unknown }).default;
    const description = String((leaf.schema as { description?: string }).description ?? '').replace(
      /\|/g,
      '\\|',
    );
    lines.push(
      `| \`${leaf.path.join('.')}\` | \`${leaf.env}\` | \`${JSON.stringify(schemaDefault)}\` | ${describeExpected(leaf.schema)} | ${description} |`,
    );
  }
  return `${lines.join('\n').replace(/\n## /g, '\n\n## ')}\n`;
}
