export { sendWebhook } from './send-webhook.workflow';
export { pruneLogs } from './prune-logs.workflow';
