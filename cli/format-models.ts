import type { ModelEntry } from '../core/models/hyper.js';

/** The `harmonium models` listing: each model, its loss, its hyperparameters and defaults. */
export function formatModels(entries: readonly ModelEntry[]): string {
  const lines: string[] = [];
  for (const e of entries) {
    lines.push(`${e.kind}  ${e.summary}`);
    const t = e.training;
    const momentum =
      t.optimizer === 'sgd'
        ? `, momentum ${t.momentum}${t.finalMomentum !== t.momentum ? ` -> ${t.finalMomentum} at epoch ${t.momentumSwitchEpoch}` : ''}`
        : '';
    lines.push(`    training defaults: ${t.optimizer}, lr ${t.lr}${momentum}`);
    for (const h of e.hypers) {
      const def = Array.isArray(h.default) ? h.default.join(',') : String(h.default);
      const range =
        h.type === 'enum'
          ? ` {${(h.values ?? []).join('|')}}`
          : h.min !== undefined || h.max !== undefined
            ? ` [${h.min ?? ''}..${h.max ?? ''}]`
            : '';
      lines.push(`    --${h.name.padEnd(20)} ${h.type.padEnd(8)} default ${def}${range}  ${h.doc}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
