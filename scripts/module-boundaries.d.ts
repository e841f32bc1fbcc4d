import type { Rule } from 'eslint';

/** module -> modules it may import (through their index.ts only) */
export const ALLOWED: Record<string, string[]>;
export const moduleBoundaries: Rule.RuleModule;
