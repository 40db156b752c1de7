/**
 * The alert rules of deploy/prometheus/rules/ are valid for the Prometheus of this machine
 * (`promtool check rules`), pass their unit tests (`promtool test rules`), and every alert has a
 * test case in which it fires, so a rule added without one fails here.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';

import { PROMETHEUS_SKIP, PROMTOOL } from './prometheus.js';

const RULES_DIR = join(import.meta.dirname, '..', 'deploy', 'prometheus', 'rules');
const RULES = join(RULES_DIR, 'harmonium.rules.yml');
const TESTS = join(RULES_DIR, 'harmonium.rules.test.yml');

/** Runs promtool; its whole output in the failure message. */
function promtool(args: readonly string[]): string {
  try {
    return execFileSync(PROMTOOL!, args, { cwd: RULES_DIR, encoding: 'utf8', timeout: 60_000 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    assert.fail(`promtool ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

interface RuleFile {
  groups: { name: string; rules: { alert?: string; record?: string }[] }[];
}
interface RuleTests {
  rule_files: string[];
  tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
}

describe('alert rules', { skip: PROMETHEUS_SKIP }, () => {
  it('promtool check rules finds them valid', () => {
    assert.match(promtool(['check', 'rules', RULES]), /SUCCESS: \d+ rules found/);
  });

  it('promtool test rules passes', () => {
    assert.match(promtool(['test', 'rules', TESTS]), /SUCCESS/);
  });

  it('every alert has a test case where it fires and one where it stays quiet', () => {
    const alerts = (parse(readFileSync(RULES, 'utf8')) as RuleFile).groups.flatMap((g) =>
      g.rules.flatMap((r) => (r.alert ? [r.alert] : [])),
    );
    const tests = parse(readFileSync(TESTS, 'utf8')) as RuleTests;
    assert.deepEqual(tests.rule_files, ['harmonium.rules.yml']);
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    const untested = alerts.flatMap((a) => {
      const mine = cases.filter((c) => c.alertname === a);
      return [
        ...(mine.some((c) => c.exp_alerts.length > 0) ? [] : [`${a}: never fires`]),
        ...(mine.some((c) => c.exp_alerts.length === 0) ? [] : [`${a}: never quiet`]),
      ];
    });
    assert.ok(alerts.length >= 10, `only ${alerts.length} alerts`);
    assert.deepEqual(untested, []);
  });
});
