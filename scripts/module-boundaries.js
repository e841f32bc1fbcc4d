// The dependency direction of src/, enforced by lint. A module may import only the public index of the
// modules listed for it; never another module's internals.
import path from 'node:path';

/** module -> modules it may import (through their index.ts only) */
export const ALLOWED = {
  platform: [],
  model: [],
  cache: ['platform'],
  features: ['platform', 'model'],
  events: ['platform', 'features'],
  registry: ['platform', 'model'],
  geo: ['platform', 'cache', 'features', 'events'],
  store: ['platform', 'cache', 'features', 'events'],
  simulator: ['platform', 'features', 'geo'],
  predictor: ['platform', 'cache', 'model', 'features', 'registry', 'geo', 'store', 'events'],
  pipeline: [
    'platform',
    'cache',
    'model',
    'features',
    'events',
    'registry',
    'geo',
    'store',
    'simulator',
    'orders',
  ],
  gateway: [
    'platform',
    'cache',
    'features',
    'events',
    'registry',
    'predictor',
    'geo',
    'store',
    'pipeline',
    'console',
    'orders',
  ],
  console: ['platform'],
  orders: ['platform', 'model', 'features', 'events', 'registry', 'geo', 'store'],
  app: [
    'platform',
    'cache',
    'model',
    'features',
    'events',
    'registry',
    'geo',
    'store',
    'simulator',
    'predictor',
    'pipeline',
    'gateway',
    'console',
    'orders',
  ],
  cli: [
    'platform',
    'cache',
    'model',
    'features',
    'events',
    'registry',
    'geo',
    'store',
    'simulator',
    'predictor',
    'pipeline',
    'gateway',
    'console',
    'app',
    'orders',
  ],
};

const SRC = path.resolve('src');

function moduleOf(file) {
  const rel = path.relative(SRC, file);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  return rel.split(path.sep)[0];
}

/** @type {import('eslint').Rule.RuleModule} */
export const moduleBoundaries = {
  meta: {
    type: 'problem',
    schema: [],
    docs: { description: 'src/ modules follow the dependency direction' },
  },
  create(context) {
    const file = context.filename;
    const from = moduleOf(file);
    if (!from) return {};
    const check = (node, spec) => {
      if (typeof spec !== 'string' || !spec.startsWith('.')) return;
      const target = path.resolve(path.dirname(file), spec);
      const to = moduleOf(target);
      if (!to || to === from) return;
      const allowed = ALLOWED[from];
      if (!allowed) {
        context.report({
          node,
          message: `src/${from} is not a known module; add it to scripts/module-boundaries.js`,
        });
        return;
      }
      if (!allowed.includes(to)) {
        context.report({
          node,
          message: `src/${from} may not depend on src/${to} (see scripts/module-boundaries.js)`,
        });
        return;
      }
      const relInTarget = path.relative(path.join(SRC, to), target);
      if (relInTarget !== 'index.js' && relInTarget !== 'index.ts') {
        context.report({
          node,
          message: `import src/${to} only through src/${to}/index.js, not ${relInTarget}`,
        });
      }
    };
    return {
      ImportDeclaration: (node) => check(node.source, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node.source, node.source.value),
      ExportAllDeclaration: (node) => check(node.source, node.source.value),
      ImportExpression: (node) => node.source.type === 'Literal' && check(node.source, node.source.value),
    };
  },
};
