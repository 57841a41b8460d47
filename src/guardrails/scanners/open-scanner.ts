// Builds the adapter a scanner's config entry (scanner-schema.ts) describes. Nothing connects
// until the first scan; close() the scanner at shutdown.

import type { ScannerConfig } from '../scanner-schema.ts';
import { LakeraScanner } from './lakera-scanner.ts';
import { LlmGuardScanner } from './llm-guard-scanner.ts';
import type { ExternalScanner } from './scanner.ts';
import { WebhookScanner } from './webhook-scanner.ts';

export function openScanner(config: ScannerConfig): ExternalScanner {
  const common = { name: config.name, url: config.url, timeoutMs: config.timeout_ms, ...(config.api_key !== undefined && { apiKey: config.api_key }) };
  switch (config.type) {
    case 'webhook':
      return new WebhookScanner(common);
    case 'lakera':
      return new LakeraScanner({ ...common, ...(config.project_id !== undefined && { projectId: config.project_id }) });
    case 'llm_guard':
      return new LlmGuardScanner({ ...common, ...(config.scanners_suppress !== undefined && { scannersSuppress: config.scanners_suppress }) });
  }
}
