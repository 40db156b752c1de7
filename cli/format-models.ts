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
    const beta1 = t.optimizer === 'adam' && t.beta1 !== undefined ? `, beta1 ${t.beta1}` : '';
    lines.push(`    training defaults: ${t.optimizer}, lr ${t.lr}${momentum}${beta1}`);
    // The phase list follows from the hyperparameters; with the defaults it shows the recipe.
    const phases = e.create(784, {}).phases;
    if (phases) {
      const each = phases.map((p) => {
        const epochs = p.epochs === null ? '--epochs' : `${p.epochs} epochs`;
        const how = p.training ? `${p.training.optimizer} lr ${p.training.lr}` : 'the training defaults';
        return `${p.name} (${epochs}, ${how})`;
      });
      lines.push(`    phases with the defaults on 28x28 images: ${each.join('; ')}`);
    }
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
