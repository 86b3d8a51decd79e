// Worker-thread entry of a threaded inference session: loads TypeScript through tsx, then the worker
// itself. Messages sent before the import finishes wait in the port's queue.
import { register } from 'tsx/esm/api';

register();
await import('./session-worker.ts');
