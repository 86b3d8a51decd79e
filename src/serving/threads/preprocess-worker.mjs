// Worker-thread entry of the preprocessing pool: loads TypeScript through tsx, then the worker itself.
import { register } from 'tsx/esm/api';

register();
await import('./preprocess-worker.ts');
