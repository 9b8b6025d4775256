import { runService } from './main.js';

// Thin entry: everything, graceful shutdown included, is in runService.
runService().catch((err: unknown) => {
  console.error('chatwoot-glpi-bridge: failed to start:', err);
  process.exit(1);
});
