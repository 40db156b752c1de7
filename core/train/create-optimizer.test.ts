import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../errors.js';
import { Adam } from './adam.js';
import { createOptimizer, type OptimizerConfig } from './create-optimizer.js';
import { Sgd } from './sgd.js';

test('builds SGD and Adam with the settings given', () => {
  const sgd = createOptimizer({ optimizer: 'sgd', momentum: 0.5, nesterov: true }, 10);
  assert.ok(sgd instanceof Sgd);
  assert.equal(sgd.size, 10);
  assert.equal(sgd.momentum, 0.5);
  assert.equal(sgd.nesterov, true);

  const adam = createOptimizer({ optimizer: 'adam', beta1: 0.8, beta2: 0.99, eps: 1e-6 }, 4);
  assert.ok(adam instanceof Adam);
  assert.deepEqual([adam.name, adam.beta1, adam.beta2, adam.eps], ['adam', 0.8, 0.99, 1e-6]);

  const defaults = createOptimizer({ optimizer: 'adam' }, 1);
  assert.ok(defaults instanceof Adam);
  assert.deepEqual([defaults.beta1, defaults.beta2, defaults.eps], [0.9, 0.999, 1e-8]);
});

test('an unknown optimizer or a bad setting is a ConfigError naming the field', () => {
  const field = (config: OptimizerConfig): string => {
    try {
      createOptimizer(config, 1);
    } catch (e) {
      if (e instanceof ConfigError) return e.field;
      throw e;
    }
    return '(no error)';
  };
  assert.equal(field({ optimizer: 'rmsprop' } as unknown as OptimizerConfig), 'optimizer');
  assert.equal(field({ optimizer: 'sgd', momentum: 1.5 }), 'momentum');
  assert.equal(field({ optimizer: 'adam', beta2: 1 }), 'beta2');
});
