#!/usr/bin/env node
// The `harmonium` command runs the TypeScript sources directly through tsx, so a fresh checkout
// needs no build step (and the package has no install script for npm to gate).
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
