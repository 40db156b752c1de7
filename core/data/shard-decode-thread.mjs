// The entry point of a shard decode thread: worker threads do not inherit the main thread's tsx
// hooks when they were registered through its API (cli/harmonium.mjs), so register them here.
import { register } from 'tsx/esm/api';

register();
await import('./shard-decode-thread.ts');
