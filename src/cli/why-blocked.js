#!/usr/bin/env node
// The package's bin: registers tsx so the TypeScript sources run as shipped, then starts the CLI.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./main.ts');
await main();
