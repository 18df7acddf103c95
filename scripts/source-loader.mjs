// In-repository only: run Flock's TypeScript sources as they are now, never a built dist/.
// Registers tsx (TypeScript) and adds the "@flock/source" export condition, under which every
// @flock/* package resolves to its src/ (see the packages' "exports"; vitest and tsc use the same
// condition). The CLI's bin and the simulator's worker threads load it when they run from a
// checkout; anything else can too:
//
//   node --import ./scripts/source-loader.mjs examples/quickstart/predict.ts
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
// Registered last, so it runs first: tsx and Node's resolver both see the condition.
register(
  'data:text/javascript,' +
    encodeURIComponent(
      'export function resolve(specifier, context, next) {' +
        ' return next(specifier, context.conditions.includes("@flock/source") ? context : { ...context, conditions: [...context.conditions, "@flock/source"] }); }',
    ),
);
