import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createCoordinatorMetrics } from './coordinator-metrics.js';
import { scrapeOnce } from './scrape-once.js';

const STATES = ['PENDING', 'RENDEZVOUS', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
const labels = { harmonium_job: 'mnist-vae', model: 'vae', role: 'coordinator' };

function jobStates(s: Awaited<ReturnType<typeof scrapeOnce>>): Record<string, number | undefined> {
  return Object.fromEntries(
    STATES.map((state) => [state, s.value('harmonium_job_state', { ...labels, state })]),
  );
}

test('job state is 1 for the current state and 0 for every other one', async () => {
  const m = createCoordinatorMetrics({ job: 'mnist-vae', model: 'vae', states: STATES });
  const zeros = Object.fromEntries(STATES.map((s) => [s, 0]));
  assert.deepEqual(jobStates(await scrapeOnce(m.registry)), zeros);
  m.setJobState('RENDEZVOUS');
  m.setJobState('RUNNING');
  assert.deepEqual(jobStates(await scrapeOnce(m.registry)), { ...zeros, RUNNING: 1 });
  m.setJobState('FAILED');
  assert.deepEqual(jobStates(await scrapeOnce(m.registry)), { ...zeros, FAILED: 1 });
});

test('a state outside the list is refused', () => {
  const m = createCoordinatorMetrics<string>({ job: 'j', model: 'vae', states: [...STATES] });
  assert.throws(() => m.setJobState('PAUSED'), /job state PAUSED is not one of PENDING, RENDEZVOUS/);
});

test('membership, progress, checkpoints and failures show up on /metrics', async () => {
  const m = createCoordinatorMetrics({ job: 'mnist-vae', model: 'vae', states: STATES });
  m.setLiveWorkers(3);
  m.setGeneration(2);
  m.recordProgress({ step: 10, images: 1920, loss: 0.25 });
  m.recordProgress({ step: 20, images: 1920 });
  m.recordCheckpoint();
  m.recordWorkerFailure('exited');
  m.recordWorkerFailure('hung');
  m.recordWorkerFailure('exited');
  m.recordRecovery(1.5);

  const s = await scrapeOnce(m.registry);
  assert.equal(s.value('harmonium_live_workers', labels), 3);
  assert.equal(s.value('harmonium_generation', labels), 2);
  assert.equal(s.value('harmonium_job_step', labels), 20);
  assert.equal(s.value('harmonium_images_processed_total', labels), 3840);
  assert.equal(s.value('harmonium_loss', labels), 0.25);
  assert.equal(s.value('harmonium_checkpoints_written_total', labels), 1);
  assert.equal(s.value('harmonium_worker_failures_total', { ...labels, reason: 'exited' }), 2);
  assert.equal(s.value('harmonium_worker_failures_total', { ...labels, reason: 'hung' }), 1);
  assert.equal(
    s.value('harmonium_worker_failures_total', { ...labels, reason: 'left' }),
    0,
    'every reason from 0',
  );
  assert.equal(s.value('harmonium_recovery_seconds_count', labels), 1);
  assert.equal(s.value('harmonium_recovery_seconds_sum', labels), 1.5);
  assert.ok(s.value('process_resident_memory_bytes', labels)! > 0);
});

test('heartbeat ages are measured at scrape time; a forgotten worker loses its series', async () => {
  let clock = 100_000;
  const m = createCoordinatorMetrics({ job: 'j', model: 'vae', states: STATES, now: () => clock });
  m.recordHeartbeat(0);
  m.recordHeartbeat(1, 99_000);
  clock = 102_500;
  let s = await scrapeOnce(m.registry);
  assert.equal(s.value('harmonium_heartbeat_age_seconds', { rank: '0' }), 2.5);
  assert.equal(s.value('harmonium_heartbeat_age_seconds', { rank: '1' }), 3.5);

  m.forgetWorker(1);
  m.recordHeartbeat(0);
  clock += 250;
  s = await scrapeOnce(m.registry);
  assert.equal(s.value('harmonium_heartbeat_age_seconds', { rank: '0' }), 0.25);
  assert.equal(s.value('harmonium_heartbeat_age_seconds', { rank: '1' }), undefined);
});

test('checkpoint failures and fenced requests are counted from 0, so an alert sees the first one', async () => {
  const m = createCoordinatorMetrics({ job: 'mnist-vae', model: 'vae', states: STATES });
  let s = await scrapeOnce(m.registry);
  assert.equal(s.value('harmonium_checkpoint_failures_total', labels), 0);
  assert.equal(s.value('harmonium_fenced_requests_total', labels), 0);
  m.recordCheckpointFailure();
  m.recordFenced();
  m.recordFenced();
  s = await scrapeOnce(m.registry);
  assert.equal(s.value('harmonium_checkpoint_failures_total', labels), 1);
  assert.equal(s.value('harmonium_fenced_requests_total', labels), 2);
});
